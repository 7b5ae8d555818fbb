package proxy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// FuzzRoutes feeds arbitrary admin payloads through decoding, validation and the table: whatever
// validates must compile and route without panicking, and only to versions with weight.
func FuzzRoutes(f *testing.F) {
	f.Add(`{"generation":1,"stable":"v1","backends":[{"version":"v1","weight":100,"endpoints":["127.0.0.1:1"]}]}`)
	f.Add(`{"generation":2,"canary":"v2","holdTimeout":1000,"backends":[{"version":"v1","weight":95,"endpoints":["a:1"]},{"version":"v2","weight":5}]}`)
	f.Add(`{"backends":[{"version":"v1","weight":0},{"version":"v2","weight":0}]}`)
	f.Add(`{"backends":[{"version":"v1","weight":-5,"endpoints":["x"]}]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		var r Routes
		if json.Unmarshal([]byte(payload), &r) != nil || r.Validate() != nil {
			return
		}
		tb := compile(r, newHistory(0), &pools{})
		for _, route := range []string{"", "stable", "canary", "preview"} {
			b, e := tb.target(route, nil)
			if route == "" && b != nil && b.weight == 0 {
				t.Fatalf("weighted pick chose %s with weight 0", b.version)
			}
			if e != nil && b == nil {
				t.Fatal("endpoint without a version")
			}
		}
	})
}

// FuzzFrameHeader checks the proxy's reading of WebSocket frame headers (what it keeps frame
// boundaries with) against the tests' own decoder: wherever the decoder reads a whole frame, the
// proxy's header and payload lengths add up to the bytes the decoder consumed.
func FuzzFrameHeader(f *testing.F) {
	f.Add(encodeFrame(0x1, []byte("hello"), true))
	f.Add(encodeFrame(0x2, make([]byte, 300), false))
	f.Add(encodeFrame(0x2, make([]byte, 70000), true))
	f.Add([]byte{0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0x81})
	f.Add(append(encodeFrame(0x1, []byte("one"), false), encodeFrame(0x1, []byte("two"), false)[:4]...))
	f.Fuzz(func(t *testing.T, b []byte) {
		// wholeFrames (what pumpFrames writes at once) agrees with reading header after header.
		whole := 0
		for {
			hl, n, err := frameHeader(bufio.NewReaderSize(bytes.NewReader(b[whole:]), 64))
			if err != nil || int64(len(b)-whole-hl) < n {
				break
			}
			whole += hl + int(n)
		}
		if k := wholeFrames(b); k != whole {
			t.Fatalf("wholeFrames says %d bytes of whole frames, reading header after header %d", k, whole)
		}
		hl, n, err := frameHeader(bufio.NewReaderSize(bytes.NewReader(b), 64))
		rd := bytes.NewReader(b)
		br := bufio.NewReader(rd)
		_, derr := readFrame(br)
		consumed := int64(len(b) - rd.Len() - br.Buffered())
		if err != nil {
			if derr == nil {
				t.Fatalf("the proxy refused a header the decoder read: %v", err)
			}
			return
		}
		if hl < 2 || hl > 14 || n < 0 {
			t.Fatalf("header length %d, payload %d", hl, n)
		}
		if derr == nil && int64(hl)+n != consumed {
			t.Fatalf("the proxy reads %d+%d bytes, the decoder %d", hl, n, consumed)
		}
	})
}

// FuzzLeanResponse reads arbitrary upstream bytes with the lean client's response reader and with
// net/http's: neither may panic, and where both accept a response and its body, they agree on the
// status, the end-to-end headers, the body and the trailers.
func FuzzLeanResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Grpc-Status\r\n\r\n2\r\nok\r\n0\r\nGrpc-Status: 0\r\n\r\n")
	f.Add("HTTP/1.0 404 Not Found\r\nX-A: 1\r\nX-A: 2\r\n\r\nbody until the end")
	f.Add("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
	f.Add("HTTP/1.1 200\nFolded: a\n b\n\n")
	f.Fuzz(func(t *testing.T, raw string) {
		var lr leanResp
		ours, oerr := lr.readResponse(bufio.NewReaderSize(strings.NewReader(raw), 4096), http.MethodGet)
		var obody []byte
		var oberr error
		if oerr == nil {
			obody, oberr = io.ReadAll(ours.Body)
		}
		theirs, terr := http.ReadResponse(bufio.NewReaderSize(strings.NewReader(raw), 4096), nil)
		if oerr != nil || terr != nil || theirs.ProtoMajor != 1 {
			return
		}
		tbody, tberr := io.ReadAll(theirs.Body)
		if oberr != nil || tberr != nil {
			return
		}
		if ours.StatusCode != theirs.StatusCode {
			t.Fatalf("status %d, net/http %d", ours.StatusCode, theirs.StatusCode)
		}
		if !bytes.Equal(obody, tbody) {
			t.Fatalf("body %q, net/http %q", obody, tbody)
		}
		oh, th := http.Header{}, http.Header{}
		copyResponseHeader(oh, ours.Header)
		copyResponseHeader(th, theirs.Header)
		if !reflect.DeepEqual(oh, th) {
			t.Fatalf("header %v, net/http %v", oh, th)
		}
		// Announced trailers that never came (nil) differ only on answers without a body.
		received := func(h http.Header) http.Header {
			out := http.Header{}
			for k, v := range h {
				if v != nil {
					out[k] = v
				}
			}
			return out
		}
		if ot, tt := received(ours.Trailer), received(theirs.Trailer); !reflect.DeepEqual(ot, tt) {
			t.Fatalf("trailer %v, net/http %v", ot, tt)
		}
		if ours.ContentLength != theirs.ContentLength {
			t.Fatalf("length %d, net/http %d", ours.ContentLength, theirs.ContentLength)
		}
	})
}
