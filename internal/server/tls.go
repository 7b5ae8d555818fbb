package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TCPOptions say how the API is served over TCP.
type TCPOptions struct {
	// Addr is where to listen (host:port).
	Addr string
	// CertFile and KeyFile are the server's certificate and key (PEM); both empty: a self-signed
	// certificate kept in DataDir/tls/, made at the first start.
	CertFile, KeyFile string
	DataDir           string
	// Insecure serves plain HTTP, only on a loopback address (a proxy in front terminates TLS).
	Insecure bool
	// Now is the clock certificates are made and checked by (nil: time.Now).
	Now func() time.Time
}

// selfSignedLifetime is how long a made certificate lasts; an expired one is made again at start.
const selfSignedLifetime = 365 * 24 * time.Hour

// ListenTCP listens on o.Addr with TLS (or, with Insecure, plain HTTP on loopback only). It
// returns the SHA-256 fingerprint of the certificate served (hex), which a client pins with
// HUGAI_SERVER_FINGERPRINT when the certificate is self-signed.
func ListenTCP(o TCPOptions) (net.Listener, string, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen %q: %w", o.Addr, err)
	}
	if o.Insecure && !Loopback(host) {
		return nil, "", fmt.Errorf("--insecure-listen %s: plain HTTP is served on a loopback address only (127.0.0.1, ::1, localhost); use --listen for TLS", o.Addr)
	}
	var cert tls.Certificate
	if !o.Insecure {
		cert, err = loadOrMakeCert(o, host)
		if err != nil {
			return nil, "", err
		}
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	if o.Insecure {
		return ln, "", nil
	}
	sum := sha256.Sum256(cert.Certificate[0])
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	return tls.NewListener(ln, cfg), hex.EncodeToString(sum[:]), nil
}

// Loopback reports whether host names this machine only.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loadOrMakeCert(o TCPOptions, host string) (tls.Certificate, error) {
	if o.CertFile != "" || o.KeyFile != "" {
		if o.CertFile == "" || o.KeyFile == "" {
			return tls.Certificate{}, errors.New("--tls-cert and --tls-key go together")
		}
		c, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("load TLS certificate: %w", err)
		}
		return c, nil
	}
	dir := filepath.Join(o.DataDir, "tls")
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err == nil {
		leaf, perr := x509.ParseCertificate(c.Certificate[0])
		if perr == nil && o.Now().Before(leaf.NotAfter.Add(-24*time.Hour)) {
			return c, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("load the data dir's TLS certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("make a TLS certificate: %w", err)
	}
	certPEM, keyPEM, err := selfSigned(host, o.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(keyPath, keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("write %s: %w", keyPath, err)
	}
	if err := os.Chmod(keyPath, 0o600); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFileAtomic(certPath, certPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("write %s: %w", certPath, err)
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// selfSigned makes an ECDSA P-256 certificate for localhost, the loopback addresses, this host's
// name and the listen host.
func selfSigned(host string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("make a TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "hugai server", Organization: []string{"hugai"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(selfSignedLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true, // so --ca-file can name the certificate itself
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		tmpl.DNSNames = append(tmpl.DNSNames, h)
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil && host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make a TLS certificate: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
