package local

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/proxy"
	"github.com/hugai-dev/hugai/internal/target"
)

// TestUpstreamH2C runs replicas that speak HTTP/2 with prior knowledge only (as gRPC servers do):
// with UpstreamProtocol h2c the readiness probe and the proxy both speak it, so the version becomes
// ready and the users' HTTP/1.1 requests reach it in HTTP/2.
func TestUpstreamH2C(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	o.UpstreamProtocol = proxy.ProtocolH2C
	ctx := context.Background()
	tg := newTarget(t, o)
	if err := tg.Deploy(ctx, target.Revision{Version: "h2c-only"}, 1); err != nil {
		t.Fatal(err)
	}
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"h2c-only": 100}, Stable: "h2c-only"}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	waitUntil(t, 15*time.Second, "served by the h2c-only replica over HTTP/2", func() bool {
		resp, err := c.Get("http://" + o.Listen + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == 200 && resp.Header.Get("X-Hugai-Version") == "h2c-only" &&
			resp.Header.Get("X-Demo-Proto") == "HTTP/2.0"
	})
}

func TestUnknownUpstreamProtocolRefused(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	o.UpstreamProtocol = "spdy"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if tg, err := New(ctx, o); err == nil {
		shutdown(t, tg)
		t.Fatal("a target with upstream protocol spdy started")
	}
}

// TestRouteCutReachesTheProxy: a rollback's Cut goes to the proxy with the routes (so it ends the
// bad version's streams at once), and a cut version that still has weight is refused.
func TestRouteCutReachesTheProxy(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	ctx := context.Background()
	tg := newTarget(t, o)
	r := target.Routing{Weights: map[string]int{"good1": 100, "good2": 0}, Stable: "good1", Cut: []string{"good2"}}
	if err := tg.Route(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := tg.client.Routes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Cut) != 1 || got.Cut[0] != "good2" {
		t.Errorf("the proxy's routes cut %v, want [good2]", got.Cut)
	}
	r.Weights = map[string]int{"good1": 50, "good2": 50}
	if err := tg.Route(ctx, r); err == nil {
		t.Error("a cut version with weight 50 was routed to")
	}
}

// TestTLSOnListen: with a certificate and key the proxy the target starts serves users over TLS,
// HTTP/2 by ALPN.
func TestTLSOnListen(t *testing.T) {
	t.Parallel()
	o := testOptions(t, t.TempDir())
	dir := t.TempDir()
	o.TLSCert, o.TLSKey = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, o.TLSCert, o.TLSKey)
	ctx := context.Background()
	tg := newTarget(t, o)
	if err := tg.Deploy(ctx, target.Revision{Version: "good1"}, 1); err != nil {
		t.Fatal(err)
	}
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"good1": 100}, Stable: "good1"}); err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	waitUntil(t, 15*time.Second, "served over TLS in HTTP/2 by good1", func() bool {
		resp, err := c.Get("https://" + o.Listen + "/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode == 200 && resp.ProtoMajor == 2 && resp.Header.Get("X-Hugai-Version") == "good1"
	})
}

func writeSelfSigned(t *testing.T, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRouteSecretReachesTheProxy: the proxy process gets the route secret through its
// environment (not its argv, which every user can read), and honours X-Hugai-Route only with it;
// a secret in the server's own environment does not leak into a proxy configured without one.
func TestRouteSecretReachesTheProxy(t *testing.T) {
	t.Setenv(routeSecretEnv, "inherited") // not this target's: must not reach its proxy
	o := testOptions(t, t.TempDir())
	o.RouteAllowFrom = nil
	o.RouteSecret = "s3cret"
	ctx := context.Background()
	tg := newTarget(t, o)
	for _, v := range []string{"good1", "good2"} {
		if err := tg.Deploy(ctx, target.Revision{Version: v}, 1); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, 30*time.Second, "good1 and good2 ready", func() bool { return readyCount(tg, "good1") == 1 && readyCount(tg, "good2") == 1 })
	if err := tg.Route(ctx, target.Routing{Weights: map[string]int{"good1": 100, "good2": 0}, Stable: "good1", Canary: "good2"}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	answeredBy := func(hdr ...string) string {
		req, _ := http.NewRequest(http.MethodGet, "http://"+o.Listen+"/", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.Header.Get("X-Hugai-Version")
	}
	waitUntil(t, 15*time.Second, "good2 reached with the secret", func() bool {
		return answeredBy("X-Hugai-Route", "canary", "X-Hugai-Route-Secret", "s3cret") == "good2"
	})
	for _, hdr := range [][]string{{"X-Hugai-Route", "canary"}, {"X-Hugai-Route", "canary", "X-Hugai-Route-Secret", "inherited"}} {
		if got := answeredBy(hdr...); got != "good1" {
			t.Errorf("%v answered by %s, want good1 (weighted)", hdr, got)
		}
	}
	pf, err := readPidFile(tg.proxyPidPath())
	if err != nil {
		t.Fatal(err)
	}
	if cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pf.PID), "cmdline")); bytes.Contains(cmdline, []byte("s3cret")) {
		t.Errorf("the secret is in the proxy's argv: %q", cmdline)
	}
}
