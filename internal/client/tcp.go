package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// TCPOptions say how to reach a server over TCP and who to be there.
type TCPOptions struct {
	// Token is the bearer token (HUGAI_TOKEN).
	Token string
	// CAFile is a PEM file of the certificates to trust instead of the system's (HUGAI_CA_FILE):
	// the server's own self-signed certificate (the data dir's tls/cert.pem) will do.
	CAFile string
	// Fingerprint pins the server's certificate by the SHA-256 the server printed at start
	// (HUGAI_SERVER_FINGERPRINT), hex with or without colons; the chain is then not checked.
	Fingerprint string
}

// NewTCP returns a client of the server at rawURL: https://host:port, or http:// to a loopback
// address only (the server refuses plain HTTP elsewhere, and a token must not cross a network
// in the clear).
func NewTCP(rawURL string, o TCPOptions) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("server URL %q: want https://host:port", rawURL)
	}
	if u.Scheme == "http" {
		if h := u.Hostname(); h != "localhost" && !isLoopbackIP(h) {
			return nil, fmt.Errorf("server URL %q: plain http only to a loopback address; use https", rawURL)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no PEM certificate in it", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if o.Fingerprint != "" {
		want := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(o.Fingerprint, "SHA256:"), ":", ""))
		if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("server fingerprint %q: want the 64 hex digits the server printed", o.Fingerprint)
		}
		// Pinned: the certificate itself is what is trusted, whoever signed it.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if hex.EncodeToString(sum[:]) != want {
				return fmt.Errorf("the server's certificate has fingerprint %s, not the pinned %s", hex.EncodeToString(sum[:]), want)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig:     cfg,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        4,
		IdleConnTimeout:     30 * time.Second,
	}
	base := u.Scheme + "://" + u.Host
	return &Client{socket: base, http: &http.Client{Transport: tr}, base: base, token: o.Token}, nil
}

func isLoopbackIP(h string) bool {
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// IsURL reports whether a --server or HUGAI_SERVER value names a server over TCP.
func IsURL(v string) bool {
	return strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://")
}
