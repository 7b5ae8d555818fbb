package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// protoUpstream answers "<version> <protocol it was spoken to in>".
func protoUpstream(t *testing.T, version string, proto string) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s", version, r.Proto)
	}))
	var pr http.Protocols
	switch proto {
	case ProtocolH2C:
		pr.SetUnencryptedHTTP2(true) // prior knowledge only: an HTTP/1.1 request would fail
		s.Config.Protocols = &pr
		s.Start()
	case ProtocolH2:
		pr.SetHTTP2(true) // no HTTP/1.1 by ALPN either
		s.Config.Protocols = &pr
		s.EnableHTTP2 = true
		s.StartTLS()
	default:
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// clientFor returns a client speaking proto to the proxy: "http1", "h2c" (prior knowledge), or
// "h2"/"http1-tls" over TLS trusting roots.
func clientFor(t *testing.T, proto string, roots *x509.CertPool) *http.Client {
	t.Helper()
	var pr http.Protocols
	tr := &http.Transport{MaxIdleConnsPerHost: 16, Protocols: &pr, TLSClientConfig: &tls.Config{RootCAs: roots}}
	switch proto {
	case ProtocolH2C:
		pr.SetUnencryptedHTTP2(true)
	case ProtocolH2:
		pr.SetHTTP2(true)
	default:
		pr.SetHTTP1(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestHTTP2BothWays(t *testing.T) {
	t.Parallel()
	// The client side: h2c with prior knowledge on the plain listener, h2 by ALPN under TLS, and
	// HTTP/1.1 on both; the upstream side: each backend's protocol.
	certFile, keyFile, cert := writeCert(t, t.TempDir(), 1)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	plain := startProxy(t, Options{})
	secure := startProxy(t, Options{TLSCert: certFile, TLSKey: keyFile})
	secure.url = strings.Replace(secure.url, "http://", "https://", 1)
	for _, upProto := range []string{ProtocolHTTP1, ProtocolH2C, ProtocolH2} {
		v1, v2 := protoUpstream(t, "v1", upProto), protoUpstream(t, "v2", upProto)
		r := Routes{Generation: time.Now().UnixNano(), Stable: "v1", Canary: "v2", Backends: []Backend{
			{Version: "v1", Weight: 50, Endpoints: []string{hostport(v1)}, Protocol: upProto},
			{Version: "v2", Weight: 50, Endpoints: []string{hostport(v2)}, Protocol: upProto},
		}}
		setRoutes(t, plain, r)
		setRoutes(t, secure, r)
		wantUp := map[string]string{ProtocolHTTP1: "HTTP/1.1", ProtocolH2C: "HTTP/2.0", ProtocolH2: "HTTP/2.0"}[upProto]
		for _, c := range []struct {
			tp     *testProxy
			client string
			want   int // the protocol major version the client must get
		}{{plain, ProtocolHTTP1, 1}, {plain, ProtocolH2C, 2}, {secure, ProtocolHTTP1, 1}, {secure, ProtocolH2, 2}} {
			hc := clientFor(t, c.client, roots)
			seen := map[string]int{}
			for i := range 40 {
				method := http.MethodGet
				var body io.Reader
				if i%2 == 1 {
					method, body = http.MethodPost, strings.NewReader("payload") // the Transport's path
				}
				req, _ := http.NewRequest(method, c.tp.url+"/x", body)
				if i == 0 {
					req.Header.Set(headerRoute, "canary")
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("%s client, %s upstream: %v", c.client, upProto, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				v := resp.Header.Get(headerVersion)
				if resp.StatusCode != 200 || resp.ProtoMajor != c.want || string(b) != v+" "+wantUp {
					t.Fatalf("%s client, %s upstream: %s %s %q from %s, want %q over HTTP/%d", c.client, upProto, resp.Proto, resp.Status, b, v, v+" "+wantUp, c.want)
				}
				if i == 0 && v != "v2" {
					t.Errorf("%s client: X-Hugai-Route canary reached %s", c.client, v)
				}
				seen[v]++
			}
			if seen["v1"] == 0 || seen["v2"] < 2 {
				t.Errorf("%s client, %s upstream: versions %v, want both at 50/50", c.client, upProto, seen)
			}
		}
	}
	var total uint64
	for _, v := range []string{"v1", "v2"} {
		total += plain.hist.counters(v).requests.Load()
	}
	if total != 3*2*40 {
		t.Errorf("the plain proxy counted %d requests, sent %d", total, 3*2*40)
	}
}

// TestStreamedResponsesAreNotBuffered holds an upstream between two events until the client has
// read the first one through the proxy: a proxy that buffered the body would never deliver it.
func TestStreamedResponsesAreNotBuffered(t *testing.T) {
	t.Parallel()
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/events" {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				return
			}
		}
	}))
	t.Cleanup(up.Close)
	tp := startProxy(t, Options{})
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	for _, client := range []string{ProtocolHTTP1, ProtocolH2C} {
		for _, path := range []string{"/events", "/chunked"} {
			resp, err := clientFor(t, client, nil).Get(tp.url + path)
			if err != nil {
				t.Fatal(err)
			}
			if resp.ContentLength != -1 || resp.Header.Get(headerVersion) != "v1" {
				t.Errorf("%s %s: length %d, version %q", client, path, resp.ContentLength, resp.Header.Get(headerVersion))
			}
			br := bufio.NewReader(resp.Body)
			for i := range 3 {
				line, err := br.ReadString('\n')
				if err != nil || line != fmt.Sprintf("data: %d\n", i) {
					t.Fatalf("%s %s: event %d: %q %v", client, path, i, line, err)
				}
				br.ReadString('\n')
				next <- struct{}{} // only now does the upstream write the next event
			}
			resp.Body.Close()
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 with the given serial number to dir
// (cert.pem, key.pem, written in place) and returns the files and the certificate.
func writeCert(t *testing.T, dir string, serial int64) (string, string, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("hugai test %d", serial)},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// servedSerial opens a new TLS connection to addr and returns the serial of the certificate served.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	d := tls.Dialer{Config: &tls.Config{InsecureSkipVerify: true}}
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	defer c.Close()
	return c.(*tls.Conn).ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLSReloadUnderLoad rotates the certificate files twice (rewritten in place, then replaced by
// a rename) under a steady load of new and kept-alive connections: no request fails, new
// connections get the new certificate, and a connection opened before the rotations goes on with
// the old one.
func TestTLSReloadUnderLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, c1 := writeCert(t, dir, 1)
	_, _, c2 := writeCert(t, mkdir(t, dir, "2"), 2)
	_, _, c3 := writeCert(t, mkdir(t, dir, "3"), 3)
	roots := x509.NewCertPool()
	for _, c := range []*x509.Certificate{c1, c2, c3} {
		roots.AddCert(c)
	}
	up := upstream(t, "v1")
	tp := startProxy(t, Options{TLSCert: certFile, TLSKey: keyFile})
	setRoutes(t, tp, Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{hostport(up)}}}})
	addr := strings.TrimPrefix(tp.url, "http://")
	url := "https://" + addr + "/"

	old := clientFor(t, ProtocolH2, roots)
	serialOf := func(c *http.Client) (int64, error) {
		resp, err := c.Get(url)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || string(b) != "v1" {
			return 0, fmt.Errorf("%s %q", resp.Status, b)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	if s, err := serialOf(old); err != nil || s != 1 {
		t.Fatalf("first request: serial %d, %v", s, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	type result struct{ ok, failed int }
	results := make(chan result, 4)
	for i := range 4 {
		go func() {
			var r result
			defer func() { results <- r }()
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: i%2 == 0, ForceAttemptHTTP2: true}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			for ctx.Err() == nil {
				if _, err := serialOf(c); err != nil {
					t.Errorf("request under load: %v", err)
					r.failed++
					continue
				}
				r.ok++
			}
		}()
	}
	time.Sleep(200 * time.Millisecond)
	// In place: the key file is briefly older than the certificate, a pair that does not load.
	copyFile(t, filepath.Join(dir, "2", "cert.pem"), certFile)
	time.Sleep(50 * time.Millisecond)
	copyFile(t, filepath.Join(dir, "2", "key.pem"), keyFile)
	waitFor(t, "new connections to get certificate 2", func() bool { return servedSerial(t, addr) == 2 })
	// By rename, as a secret mount or certbot's symlinks do it.
	for _, f := range []string{"cert.pem", "key.pem"} {
		if err := os.Rename(filepath.Join(dir, "3", f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "new connections to get certificate 3", func() bool { return servedSerial(t, addr) == 3 })
	time.Sleep(200 * time.Millisecond)
	cancel()
	var total result
	for range 4 {
		r := <-results
		total.ok += r.ok
		total.failed += r.failed
	}
	if total.failed != 0 || total.ok < 20 {
		t.Errorf("under load: %d requests served, %d failed", total.ok, total.failed)
	}
	if s, err := serialOf(old); err != nil || s != 1 {
		t.Errorf("the connection opened before the rotations: serial %d, %v; want it open on certificate 1", s, err)
	}
}

func mkdir(t *testing.T, parent, name string) string {
	t.Helper()
	d := filepath.Join(parent, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
