package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// discardWriter is a ResponseWriter that keeps nothing, so the benchmark measures the proxy.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkServeHTTP measures one proxied request against a real loopback upstream, 95/5 split.
func BenchmarkServeHTTP(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	defer up.Close()
	p, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.transport.CloseIdleConnections()
	if err := p.SetRoutes(Routes{Generation: 1, Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{hostport(up)}},
		{Version: "v2", Weight: 5, Endpoints: []string{hostport(up)}},
	}}); err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "http://proxy/x?y=1", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.RequestURI = "/x?y=1" // as the server sets it, so the lean client takes it
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			clear(w.h)
			p.ServeHTTP(w, req)
		}
	})
}

// BenchmarkSetRoutes measures a route change as the server makes it: a PUT on the admin socket,
// the state file written and synced, the table swapped.
func BenchmarkSetRoutes(b *testing.B) {
	dir := b.TempDir()
	p, err := New(Options{StateFile: dir + "/routes.json"})
	if err != nil {
		b.Fatal(err)
	}
	sock, err := listenUnix(b.Context(), dir+"/a.sock")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: p.adminHandler(true)}
	go srv.Serve(sock)
	defer srv.Close()
	c := NewClient(dir + "/a.sock")
	defer c.CloseIdleConnections()
	r := Routes{Backends: []Backend{
		{Version: "v1", Weight: 95, Endpoints: []string{"127.0.0.1:1"}},
		{Version: "v2", Weight: 5, Endpoints: []string{"127.0.0.1:2"}},
	}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Generation = int64(i + 1)
		if err := c.SetRoutes(b.Context(), r); err != nil {
			b.Fatal(err)
		}
	}
}
