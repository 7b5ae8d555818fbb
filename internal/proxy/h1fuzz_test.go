package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzRequestHead holds the proxy's request parser to net/http's: it never panics, and a head it
// serves itself is one net/http reads too, with the same method, target, host and body framing.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a?b=c HTTP/1.1\r\nHost: example.com:80\r\nContent-Length: 3\r\n\r\nabc",
		"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close, X-A\r\nX-A: 1\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\nX-Hugai-Route: canary\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n Folded\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var h reqHead
		b := []byte(raw)
		b = b[leadingEmptyLines(b):]
		if h.parse(b) != headOK {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(b))))
		target := string(h.target.of(b))
		if _, uerr := url.ParseRequestURI(target); uerr != nil {
			return // a target net/http cannot make a URL of: the proxy passes it on as it came
		}
		if err != nil {
			t.Fatalf("the proxy serves %q, net/http refuses it: %v", raw, err)
		}
		if req.Method != string(h.method.of(b)) || req.RequestURI != target || req.Host != string(h.host.of(b)) {
			t.Fatalf("%q: proxy %q %q %q, net/http %q %q %q", raw, h.method.of(b), target, h.host.of(b), req.Method, req.RequestURI, req.Host)
		}
		switch {
		case h.chunked:
			if len(req.TransferEncoding) != 1 || req.TransferEncoding[0] != "chunked" {
				t.Fatalf("%q: chunked for the proxy, %v for net/http", raw, req.TransferEncoding)
			}
		case req.ContentLength != h.contentLength:
			t.Fatalf("%q: length %d for the proxy, %d for net/http", raw, h.contentLength, req.ContentLength)
		}
		if h.close != req.Close {
			t.Fatalf("%q: close %v for the proxy, %v for net/http", raw, h.close, req.Close)
		}
	})
}

// FuzzChunked holds the two readers of chunked framing to each other and to net/http's: where the
// body is all there, the scanner that decides whether it goes out with the head finds the same end
// as the copy that streams it, and the bytes copied are those bytes, as they came.
func FuzzChunked(f *testing.F) {
	for _, s := range []string{
		"3\r\nabc\r\n0\r\n\r\n",
		"3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\nGET",
		"zz\r\n",
		"3\r\nabcd\r\n0\r\n\r\n",
		"0\r\ngrpc-status: 2\r\n\r\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		n, serr := chunkedEnd([]byte(raw))
		var out bytes.Buffer
		w := &sink{w: &out, buf: make([]byte, 0, 64)}
		br := bufio.NewReaderSize(strings.NewReader(raw), 64)
		_, rerr, werr := copyChunked(w, br)
		if werr == nil {
			werr = w.Flush()
		}
		if werr != nil {
			t.Fatalf("write: %v", werr)
		}
		if serr != nil {
			if rerr == nil {
				t.Fatalf("%q: the scanner refuses it (%v), the copy takes it", raw, serr)
			}
			return
		}
		if n < 0 {
			if rerr == nil {
				t.Fatalf("%q: the scanner finds no end, the copy does", raw)
			}
			return
		}
		if rerr != nil {
			if len(raw[:n]) <= 60 { // a line longer than the copy's small buffer is refused there only
				t.Fatalf("%q: the scanner ends it at %d, the copy fails: %v", raw, n, rerr)
			}
			return
		}
		if out.String() != raw[:n] {
			t.Fatalf("%q: copied %q, the scanner's end is %d", raw, out.String(), n)
		}
		body, err := io.ReadAll(httpChunked(raw[:n]))
		if err != nil {
			t.Fatalf("%q: net/http's reader refuses what the proxy passes: %v", raw, err)
		}
		_ = body
	})
}

// httpChunked reads a chunked body with net/http's reader (through a response, which handles the
// trailers).
func httpChunked(body string) io.Reader {
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+body)), nil)
	if err != nil {
		return errReader{err}
	}
	return resp.Body
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzOwnServer sends arbitrary bytes to a running proxy's own server: whatever comes, the proxy
// answers with an HTTP/1.1 status line or closes the connection, never crashes, and serves a
// well-formed request afterwards.
func FuzzOwnServer(f *testing.F) {
	f.Add("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	f.Add("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab\r\n0\r\n\r\n")
	f.Add("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
	f.Add("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\n\r\n")
	up := rawUpstream(f)
	tp := startProxyF(f)
	if err := tp.SetRoutes(Routes{Generation: 1, Backends: []Backend{{Version: "v1", Weight: 100, Endpoints: []string{up}}}}); err != nil {
		f.Fatal(err)
	}
	addr := tp.addr
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, raw)
		c.(*net.TCPConn).CloseWrite()
		b, _ := io.ReadAll(c)
		if len(b) > 0 && !bytes.HasPrefix(b, []byte("HTTP/1.1 ")) && !bytes.HasPrefix(b, []byte("HTTP/1.0 ")) && !bytes.HasPrefix(b, []byte("\x00\x00")) {
			t.Fatalf("%q answered %q", raw, b)
		}
		c2, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after %q: %v %v", raw, resp, err)
		}
	})
}

// startProxyF starts a proxy for a fuzz target, stopped when the target ends.
func startProxyF(f *testing.F) benchProxy {
	dir := f.TempDir()
	p, err := New(Options{AdminSocket: dir + "/a.sock"})
	if err != nil {
		f.Fatal(err)
	}
	data, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	sock, err := listenUnix(f.Context(), dir+"/a.sock")
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(done)
		p.Serve(ctx, data, nil, sock)
	}()
	f.Cleanup(func() {
		cancel()
		<-done
	})
	return benchProxy{p, data.Addr().String()}
}
