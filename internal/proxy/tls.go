package proxy

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// certCheckInterval bounds how often a handshake looks at the certificate files: a rotation is
// picked up within it, and a busy listener does not stat two files per connection.
const certCheckInterval = time.Second

// certReloader serves the certificate pair currently in two files. Each handshake asks it for the
// certificate; when the files changed since the last look it loads them again, so a rotation
// (certbot, a secret mount) takes effect for new connections without a restart, and connections
// already open keep the certificate they were made with. A pair that does not load (a rotation
// half done: the new certificate beside the old key) keeps the last good pair until it does.
type certReloader struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

// fileStamp is what tells that a file changed: replaced (rename), rewritten or touched.
type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ino: inode(fi)}, nil
}

// newCertReloader loads the pair once: a proxy must not start without a certificate it can serve.
func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	cr := &certReloader{certFile: certFile, keyFile: keyFile}
	if err := cr.load(time.Now()); err != nil {
		return nil, err
	}
	return cr, nil
}

// load reads the pair if its files changed since the last load. cr.mu is held, or cr is new.
func (cr *certReloader) load(now time.Time) error {
	cr.checked = now
	var st [2]fileStamp
	var err error
	for i, f := range []string{cr.certFile, cr.keyFile} {
		if st[i], err = stampOf(f); err != nil {
			return fmt.Errorf("tls certificate: %w", err)
		}
	}
	if cr.cert != nil && st == cr.stamp {
		return nil
	}
	c, err := tls.LoadX509KeyPair(cr.certFile, cr.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate %s, key %s: %w", cr.certFile, cr.keyFile, err)
	}
	cr.cert, cr.stamp = &c, st
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (cr *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if now := time.Now(); now.Sub(cr.checked) >= certCheckInterval {
		_ = cr.load(now) // on failure the last good pair stays in service, and the next look retries
	}
	return cr.cert, nil
}

// serverTLS is the listen address's TLS configuration: the reloaded pair, and ALPN offering
// HTTP/2 before HTTP/1.1 (net/http's ServeTLS adds both protocols).
func (cr *certReloader) serverTLS() *tls.Config {
	return &tls.Config{GetCertificate: cr.getCertificate, MinVersion: tls.VersionTLS12}
}
