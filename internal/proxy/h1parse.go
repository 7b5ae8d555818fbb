package proxy

import (
	"bytes"
	"errors"
)

// The proxy's own HTTP/1.1 server (h1server.go) reads request heads with this parser instead of
// net/http's: no maps, no strings, nothing allocated. It interprets only the headers the proxy acts
// on (Host, Connection, Content-Length, Transfer-Encoding, Upgrade, Expect, X-Forwarded-For and
// the routing headers) and remembers where every other line is, to copy it to the upstream as it
// came. A head it can parse but does not serve itself (HTTP/1.0, an Upgrade, an absolute URI,
// more header lines than it keeps) is "unusual": the connection goes to net/http's server, which
// serves every protocol feature. A head that is malformed, or framed ambiguously (the request
// smuggling shapes: a length beside chunked, two lengths), is answered 400 and the connection closed.

const (
	// maxReqLines is how many header lines a request may have on the proxy's own path; more go to
	// net/http's server (whose limit is a megabyte of head).
	maxReqLines = 64
	// maxConnTokens is how many header names a Connection header may list as hop-by-hop.
	maxConnTokens = 8
	// maxBodyLength bounds a Content-Length so that sums of lengths cannot overflow.
	maxBodyLength = 1 << 50
)

// parseOutcome is what the parser made of a head.
type parseOutcome int

const (
	headOK         parseOutcome = iota // served on the proxy's own path
	headIncomplete                     // more bytes needed
	headUnusual                        // valid perhaps, but for net/http's server
	headBad                            // 400, and the connection closed
	headBadCoding                      // 501: a transfer coding the proxy does not know
	headBadExpect                      // 417: an expectation other than 100-continue
)

// span is a byte range [a, b) of the head.
type span struct{ a, b int32 }

func (s span) of(head []byte) []byte { return head[s.a:s.b] }

// Kinds of header line, by name; hdrOther is copied to the upstream as it is.
const (
	hdrOther = iota
	hdrHost
	hdrConnection
	hdrContentLength
	hdrTransferEncoding
	hdrUpgrade
	hdrExpect
	hdrRoute
	hdrRouteSecret
	hdrXFF
	hdrTE
	hdrHop // Keep-Alive, Proxy-Connection, Trailer, Proxy-Authenticate, Proxy-Authorization
)

// hdrLine is one header line: its name and value, and what kind of header it is.
type hdrLine struct {
	name, value span
	kind        uint8
}

// reqHead is a parsed request head. It points into the bytes it was parsed from and is reused by
// every request of a connection's buffers.
type reqHead struct {
	size          int // bytes of the head, final empty line included
	method        span
	target        span
	host          span
	route, secret span // X-Hugai-Route and its secret; empty when absent
	contentLength int64
	hasLength     bool
	chunked       bool
	close         bool // Connection: close
	expect        bool // Expect: 100-continue
	teTrailers    bool // TE: trailers, which is forwarded
	connTokens    [maxConnTokens]span
	nConnTokens   int
	lines         [maxReqLines]hdrLine
	nLines        int
}

var errBadRequest = errors.New("malformed request")

// parseRequest parses the request head at the start of b.
func (h *reqHead) parse(b []byte) parseOutcome {
	h.reset()
	end := headEnd(b)
	if end < 0 {
		if len(b) >= len(h2Preface) && bytes.HasPrefix(b, h2Preface) {
			return headUnusual
		}
		return headIncomplete
	}
	h.size = end
	// The request line: method SP target SP HTTP/1.1.
	nl := bytes.IndexByte(b, '\n')
	line := trimCR(b[:nl])
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 || !isToken(line[:sp1]) {
		return headBad
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return headBad
	}
	target, proto := rest[:sp2], rest[sp2+1:]
	h.method = span{0, int32(sp1)}
	h.target = span{int32(sp1 + 1), int32(sp1 + 1 + sp2)}
	switch string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0", "HTTP/2.0":
		return headUnusual // net/http's server: HTTP/1.0's keep-alive rules, the h2c preface
	default:
		return headBad
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return headBad
		}
	}
	if target[0] != '/' {
		// Absolute-form, authority-form (CONNECT) and asterisk-form: rare, and net/http knows them.
		return headUnusual
	}
	if string(line[:sp1]) == "CONNECT" || string(line[:sp1]) == "PRI" {
		return headUnusual
	}
	hosts, lengths, codings := 0, 0, 0
	pos := nl + 1
	for pos < end {
		nl := bytes.IndexByte(b[pos:end], '\n')
		ln := trimCR(b[pos : pos+nl])
		start := pos
		pos += nl + 1
		if len(ln) == 0 {
			break // the empty line that ends the head
		}
		colon := bytes.IndexByte(ln, ':')
		if colon <= 0 || !isToken(ln[:colon]) {
			return headBad // obsolete line folding starts with a space and ends here too
		}
		v := ln[colon+1:]
		vs := start + colon + 1
		for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
			v, vs = v[1:], vs+1
		}
		for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
			v = v[:len(v)-1]
		}
		for _, c := range v {
			if c < ' ' && c != '\t' || c == 0x7f {
				return headBad
			}
		}
		if h.nLines == maxReqLines {
			return headUnusual
		}
		hl := &h.lines[h.nLines]
		h.nLines++
		*hl = hdrLine{name: span{int32(start), int32(start + colon)}, value: span{int32(vs), int32(vs + len(v))}, kind: kindOf(ln[:colon])}
		switch hl.kind {
		case hdrHost:
			hosts++
			h.host = hl.value
			for _, c := range v {
				if !hostChar[c] {
					return headBad
				}
			}
		case hdrContentLength:
			lengths++
			n, ok := parseLength(v)
			if !ok {
				return headBad
			}
			h.contentLength, h.hasLength = n, true
		case hdrTransferEncoding:
			codings++
			if !bytes.EqualFold(v, []byte("chunked")) {
				return headBadCoding
			}
			h.chunked = true
		case hdrConnection:
			if !h.connection(b, hl.value) {
				return headUnusual
			}
		case hdrUpgrade:
			return headUnusual // WebSocket and the like: net/http's server and upgrade.go
		case hdrExpect:
			if !bytes.EqualFold(v, []byte("100-continue")) {
				return headBadExpect
			}
			h.expect = true
		case hdrRoute:
			if h.route.b == 0 {
				h.route = hl.value
			}
		case hdrRouteSecret:
			if h.secret.b == 0 {
				h.secret = hl.value
			}
		case hdrTE:
			h.teTrailers = bytes.EqualFold(v, []byte("trailers"))
		}
	}
	// One Host, one length or one coding, never both (RFC 9112 6.1 and 6.3: the shapes that let
	// two readers of one stream disagree on where a request ends).
	if hosts != 1 || lengths > 1 || codings > 1 || (lengths > 0 && codings > 0) {
		return headBad
	}
	return headOK
}

// reset empties h for the next head; lines is overwritten as far as nLines says, and copying it
// whole would cost more than the rest of the parse.
func (h *reqHead) reset() {
	h.size, h.method, h.target, h.host, h.route, h.secret = 0, span{}, span{}, span{}, span{}, span{}
	h.contentLength, h.hasLength, h.chunked, h.close, h.expect, h.teTrailers = 0, false, false, false, false, false
	h.nConnTokens, h.nLines = 0, 0
}

// connection reads a Connection header's tokens: close, keep-alive, and the names of headers
// meant for this hop only. False when it lists more names than the parser keeps.
func (h *reqHead) connection(b []byte, v span) bool {
	for i := v.a; i < v.b; {
		j := i
		for j < v.b && b[j] != ',' {
			j++
		}
		t := span{i, j}
		for t.a < t.b && (b[t.a] == ' ' || b[t.a] == '\t') {
			t.a++
		}
		for t.b > t.a && (b[t.b-1] == ' ' || b[t.b-1] == '\t') {
			t.b--
		}
		i = j + 1
		switch tok := t.of(b); {
		case len(tok) == 0, bytes.EqualFold(tok, []byte("keep-alive")):
		case bytes.EqualFold(tok, []byte("close")):
			h.close = true
		default:
			if h.nConnTokens == maxConnTokens {
				return false
			}
			h.connTokens[h.nConnTokens] = t
			h.nConnTokens++
		}
	}
	return true
}

// listed reports whether a header name is one the Connection header named.
func (h *reqHead) listed(b, name []byte) bool {
	for _, t := range h.connTokens[:h.nConnTokens] {
		if bytes.EqualFold(t.of(b), name) {
			return true
		}
	}
	return false
}

// h2Preface starts an HTTP/2 connection with prior knowledge.
var h2Preface = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

// headEnd returns the length of the head at the start of b (through the empty line that ends it,
// CRLF or a bare LF), or -1 when b does not hold all of it.
func headEnd(b []byte) int {
	pos := 0
	for {
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			return -1
		}
		if nl == 0 || (nl == 1 && b[pos] == '\r') {
			return pos + nl + 1
		}
		pos += nl + 1
	}
}

// leadingEmptyLines counts the bytes of empty lines before a request (RFC 9112 2.2: a server
// should ignore at least one, which clients send after a POST body).
func leadingEmptyLines(b []byte) int {
	n := 0
	for {
		switch {
		case len(b) > n && b[n] == '\n':
			n++
		case len(b) > n+1 && b[n] == '\r' && b[n+1] == '\n':
			n += 2
		default:
			return n
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// isToken reports whether b is a non-empty RFC 9110 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return true
}

// tokenChar is the RFC 9110 tchar table.
var tokenChar = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = c > ' ' && c < 0x7f && bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), byte(c)) < 0
	}
	return t
}()

// hostChar are the bytes a Host header may hold (a name or address, a port; RFC 3986's
// reg-name, IP-literal and port characters), as net/http checks them.
var hostChar = func() (t [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:[]@!$&'()*+,;=%") {
		t[c] = true
	}
	return t
}()

// parseLength reads a Content-Length: digits only, no sign, no spaces inside.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 16 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, n <= maxBodyLength
}

// kindOf classifies a header name, case-insensitively, without allocating.
func kindOf(name []byte) uint8 {
	switch len(name) {
	case 2:
		if bytes.EqualFold(name, []byte("te")) {
			return hdrTE
		}
	case 4:
		if bytes.EqualFold(name, []byte("host")) {
			return hdrHost
		}
	case 6:
		if bytes.EqualFold(name, []byte("expect")) {
			return hdrExpect
		}
	case 7:
		if bytes.EqualFold(name, []byte("upgrade")) {
			return hdrUpgrade
		}
		if bytes.EqualFold(name, []byte("trailer")) {
			return hdrHop
		}
	case 10:
		if bytes.EqualFold(name, []byte("connection")) {
			return hdrConnection
		}
		if bytes.EqualFold(name, []byte("keep-alive")) {
			return hdrHop
		}
	case 13:
		if bytes.EqualFold(name, []byte("x-hugai-route")) {
			return hdrRoute
		}
	case 14:
		if bytes.EqualFold(name, []byte("content-length")) {
			return hdrContentLength
		}
	case 15:
		if bytes.EqualFold(name, []byte("x-forwarded-for")) {
			return hdrXFF
		}
	case 16:
		if bytes.EqualFold(name, []byte("proxy-connection")) {
			return hdrHop
		}
	case 17:
		if bytes.EqualFold(name, []byte("transfer-encoding")) {
			return hdrTransferEncoding
		}
	case 18:
		if bytes.EqualFold(name, []byte("proxy-authenticate")) {
			return hdrHop
		}
	case 19:
		if bytes.EqualFold(name, []byte("proxy-authorization")) {
			return hdrHop
		}
	case 20:
		if bytes.EqualFold(name, []byte("x-hugai-route-secret")) {
			return hdrRouteSecret
		}
	}
	return hdrOther
}
