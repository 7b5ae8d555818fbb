package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
)

// The lean client reads an upstream's response head itself instead of with http.ReadResponse,
// which allocated eight times per response (docs/benchmarks.md). Everything it reads lives in the
// connection and is reused by the next exchange on it: the Response, the header map, the body
// reader. Header lines are turned into strings once per connection and reused while the upstream
// sends the same line again (a service's Content-Type, Server, or a fixed Content-Length), so a
// steady stream of alike responses allocates nothing. The value slices are shared with the
// client's response header, as forward already did: nothing modifies them.

const (
	maxHeaderLines = 256 // more is not a response an upstream of ours sends
	// A connection remembers at most maxCachedLines lines of at most maxCachedLineLen bytes (about
	// 16 KiB with the strings), so that a pool of a thousand idle connections to an upstream that
	// sends long, ever-changing lines (cookies, tokens) stays small; those lines are not worth
	// remembering anyway.
	maxCachedLines   = 32
	maxCachedLineLen = 256
)

var (
	errBadStatusLine = errors.New("malformed status line from the upstream")
	errHeaderTooLong = errors.New("response header line from the upstream longer than the read buffer")
)

// cachedLine is one header line already turned into strings.
type cachedLine struct {
	key  string
	vals []string // one value; never appended to
}

// leanResp is what a connection keeps to read responses with.
type leanResp struct {
	resp  http.Response
	hdr   http.Header
	body  leanBody
	cache map[string]cachedLine
}

// readResponse reads one response head from br; its body is read through resp.Body, which must be
// read to its end (or the connection dropped) before the next exchange.
func (lr *leanResp) readResponse(br *bufio.Reader, method string) (*http.Response, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	code, minor, ok := parseStatusLine(line)
	if !ok {
		return nil, fmt.Errorf("%w: %q", errBadStatusLine, truncate(line))
	}
	if lr.hdr == nil {
		lr.hdr = make(http.Header, 8)
		lr.cache = make(map[string]cachedLine, 16)
	}
	h := lr.hdr
	clear(h)
	for i := 0; ; i++ {
		if line, err = readLine(br); err != nil {
			return nil, err
		}
		if len(line) == 0 {
			break
		}
		if i == maxHeaderLines {
			return nil, fmt.Errorf("more than %d response header lines from the upstream", maxHeaderLines)
		}
		cl, ok := lr.cache[string(line)] // a []byte map key converted in place: no allocation
		if !ok {
			if cl, err = parseHeaderLine(line); err != nil {
				return nil, err
			}
			if len(line) <= maxCachedLineLen {
				if len(lr.cache) == maxCachedLines {
					clear(lr.cache)
				}
				lr.cache[string(line)] = cl
			}
		}
		if prior, ok := h[cl.key]; ok {
			h[cl.key] = append(prior[:len(prior):len(prior)], cl.vals[0]) // a copy: cached slices stay as they are
		} else {
			h[cl.key] = cl.vals
		}
	}

	resp := &lr.resp
	*resp = http.Response{StatusCode: code, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: minor, Header: h, ContentLength: -1}
	if minor == 0 {
		resp.Proto = "HTTP/1.0"
	}
	conn := h["Connection"]
	resp.Close = listedIn(conn, "close") || (minor == 0 && !listedIn(conn, "keep-alive"))
	b := &lr.body
	*b = leanBody{br: br, resp: resp}
	resp.Body = b
	te, cls := h["Transfer-Encoding"], h["Content-Length"]
	if minor == 0 && len(te) > 0 {
		// HTTP/1.0 has no transfer codings: the header is ignored and the body framed by its
		// length or the end of the connection, as net/http reads it (found by FuzzLeanResponse).
		delete(h, "Transfer-Encoding")
		te = nil
	}
	switch {
	case method == http.MethodHead || code/100 == 1 || code == http.StatusNoContent || code == http.StatusNotModified:
		b.mode = bodyNone
		resp.ContentLength = 0 // nothing follows, whatever the framing headers say
	case len(te) > 0:
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return nil, fmt.Errorf("unsupported transfer encoding %q from the upstream", te)
		}
		// A length beside chunked is ignored, as RFC 9112 6.3 says, and not passed on.
		delete(h, "Content-Length")
		b.mode = bodyChunked
		b.chunks = httputil.NewChunkedReader(br)
		// Announced trailers, which only a chunked body can carry, are known before the body.
		for _, v := range h["Trailer"] {
			for _, k := range strings.Split(v, ",") {
				if k = strings.TrimSpace(k); k != "" {
					if resp.Trailer == nil {
						resp.Trailer = http.Header{}
					}
					resp.Trailer[textproto.CanonicalMIMEHeaderKey(k)] = nil
				}
			}
		}
	case len(cls) > 0:
		n, err := parseContentLength(cls)
		if err != nil {
			return nil, err
		}
		resp.ContentLength = n
		b.mode, b.n = bodyFixed, n
		if len(cls) > 1 {
			h["Content-Length"] = cls[:1] // the same length repeated goes on once
		}
	default:
		// Delimited by the end of the connection, which then cannot be used again.
		b.mode = bodyToEOF
		resp.Close = true
	}
	return resp, nil
}

// readLine returns the next line without its line ending; it is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errHeaderTooLong
		}
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// parseStatusLine reads "HTTP/1.x NNN reason".
func parseStatusLine(l []byte) (code, minor int, ok bool) {
	if len(l) < 12 || !bytes.HasPrefix(l, []byte("HTTP/1.")) || l[8] != ' ' || (len(l) > 12 && l[12] != ' ') {
		return 0, 0, false
	}
	switch l[7] {
	case '0':
	case '1':
		minor = 1
	default:
		return 0, 0, false
	}
	for _, c := range l[9:12] {
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		code = code*10 + int(c-'0')
	}
	return code, minor, code >= 100
}

// parseHeaderLine splits "Name: value" into the canonical name and the value without the spaces
// around it.
func parseHeaderLine(l []byte) (cachedLine, error) {
	k, v, ok := bytes.Cut(l, []byte(":"))
	if !ok || len(k) == 0 || !validToken(k) {
		// A continuation line (obsolete folding) starts with a space and so fails here too.
		return cachedLine{}, fmt.Errorf("malformed response header line from the upstream: %q", truncate(l))
	}
	v = bytes.Trim(v, " \t")
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return cachedLine{}, fmt.Errorf("control character in response header %s from the upstream", k)
		}
	}
	return cachedLine{key: textproto.CanonicalMIMEHeaderKey(string(k)), vals: []string{string(v)}}, nil
}

// validToken reports whether b is an RFC 9110 token (a header name).
func validToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// parseContentLength reads the length; repeated values must agree (RFC 9110 8.6).
func parseContentLength(vs []string) (int64, error) {
	var n int64 = -1
	for _, v := range vs {
		m, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || m < 0 || (n >= 0 && m != n) {
			return 0, fmt.Errorf("bad Content-Length %q from the upstream", vs)
		}
		n = m
	}
	return n, nil
}

func truncate(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// Body framings.
const (
	bodyNone = iota
	bodyFixed
	bodyChunked
	bodyToEOF
)

// leanBody reads a response body as its head framed it.
type leanBody struct {
	br     *bufio.Reader
	resp   *http.Response
	mode   int
	n      int64     // bytes left, bodyFixed
	chunks io.Reader // bodyChunked
}

func (b *leanBody) Read(p []byte) (int, error) {
	switch b.mode {
	case bodyFixed:
		if b.n == 0 {
			return 0, io.EOF
		}
		if int64(len(p)) > b.n {
			p = p[:b.n]
		}
		n, err := b.br.Read(p)
		b.n -= int64(n)
		switch {
		case b.n == 0:
			err = io.EOF
		case errors.Is(err, io.EOF):
			err = io.ErrUnexpectedEOF
		}
		return n, err
	case bodyChunked:
		n, err := b.chunks.Read(p)
		if err == io.EOF { // the last chunk, not a connection's end (that is ErrUnexpectedEOF)
			if terr := b.readTrailer(); terr != nil {
				return n, terr
			}
		}
		return n, err
	case bodyToEOF:
		return b.br.Read(p)
	}
	return 0, io.EOF
}

// readTrailer reads the trailer section after the last chunk into resp.Trailer.
func (b *leanBody) readTrailer() error {
	b.mode = bodyNone
	for i := 0; ; i++ {
		line, err := readLine(b.br)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		if i == maxHeaderLines {
			return errors.New("too many trailer lines from the upstream")
		}
		cl, err := parseHeaderLine(line)
		if err != nil {
			return err
		}
		if b.resp.Trailer == nil {
			b.resp.Trailer = http.Header{}
		}
		b.resp.Trailer[cl.key] = append(b.resp.Trailer[cl.key], cl.vals[0])
	}
}

// Close does nothing: the exchange decides whether the connection goes back to its pool.
func (b *leanBody) Close() error { return nil }
