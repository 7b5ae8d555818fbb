package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Request and response heads as the proxy's own server writes them: copied line by line from the
// bytes they were read from, without the headers that belong to one connection, with the proxy's
// own added (X-Forwarded-For towards the upstream, X-Hugai-Version towards the client).

// writeUpstreamHead writes the request head for the upstream: the request line and Host first,
// then every end-to-end line as it came, without hop-by-hop headers, Expect (the proxy answered
// it) and the routing headers, with the client's address appended to X-Forwarded-For and the
// body's framing as the proxy checked it.
func writeUpstreamHead(w *bufio.Writer, head []byte, h *reqHead, clientHost string) {
	w.Write(head[h.method.a:h.target.b])
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.Write(h.host.of(head))
	w.WriteString("\r\n")
	xff := false
	var length span
	for i := range h.lines[:h.nLines] {
		l := &h.lines[i]
		switch l.kind {
		case hdrOther:
			if h.nConnTokens > 0 && h.listed(head, l.name.of(head)) {
				continue
			}
			w.Write(head[l.name.a:l.value.b])
			w.WriteString("\r\n")
		case hdrTE:
			if h.teTrailers {
				w.WriteString("TE: trailers\r\n")
			}
		case hdrXFF:
			xff = true
		case hdrContentLength:
			length = l.value
		}
	}
	if xff || clientHost != "" {
		w.WriteString("X-Forwarded-For: ")
		sep := false
		for i := range h.lines[:h.nLines] {
			if l := &h.lines[i]; l.kind == hdrXFF && l.value.b > l.value.a {
				if sep {
					w.WriteString(", ")
				}
				w.Write(l.value.of(head))
				sep = true
			}
		}
		if clientHost != "" {
			if sep {
				w.WriteString(", ")
			}
			w.WriteString(clientHost)
		}
		w.WriteString("\r\n")
	}
	switch {
	case h.chunked:
		w.WriteString("Transfer-Encoding: chunked\r\n")
	case h.hasLength:
		w.WriteString("Content-Length: ")
		w.Write(length.of(head))
		w.WriteString("\r\n")
	}
	w.WriteString("\r\n")
}

// Response body lengths that are not a number of bytes.
const (
	lengthChunked = -1
	lengthToEOF   = -2
)

// respInfo is what the proxy needs of a response head.
type respInfo struct {
	code       int
	close      bool  // the upstream's connection cannot carry another request
	length     int64 // bytes of body, or lengthChunked, or lengthToEOF
	grpc       bool  // a gRPC answer
	grpcFailed bool  // a trailers-only gRPC answer with a status other than OK
}

const maxRespConnTokens = 8

var errBadResponse = errors.New("malformed response head from the upstream")

// rewriteResponseHead reads the response head hb (through its empty line) and appends the head
// the client gets to out's buffer: HTTP/1.1, the upstream's end-to-end lines as they came, the
// framing the proxy passes on, X-Hugai-Version, and Connection: close when the client's
// connection ends after it. Informational answers (1xx) are read but not written.
func rewriteResponseHead(out *sink, hb []byte, version string, isHead, closeAfter bool) (respInfo, error) {
	var ri respInfo
	nl := bytes.IndexByte(hb, '\n')
	status := trimCR(hb[:nl])
	code, minor, ok := parseStatusLine(status)
	if !ok {
		return ri, fmt.Errorf("%w: status line %q", errBadResponse, truncate(status))
	}
	for _, c := range status {
		if c < ' ' && c != '\t' || c == 0x7f {
			return ri, fmt.Errorf("%w: status line %q", errBadResponse, truncate(status))
		}
	}
	ri.code = code
	var conn [maxRespConnTokens][]byte
	nconn, connClose, connKeep := 0, false, false
	var length int64 = -1
	codings, chunked := 0, false
	var grpcStatus []byte
	lines := hb[nl+1:]
	for pos, n := 0, 0; pos < len(lines); n++ {
		name, value, _, next, ok := headerLine(lines, pos)
		if !ok {
			return ri, fmt.Errorf("%w: header line %q", errBadResponse, truncate(lines[pos:]))
		}
		if name == nil {
			break
		}
		if n == maxHeaderLines {
			return ri, fmt.Errorf("%w: more than %d header lines", errBadResponse, maxHeaderLines)
		}
		pos = next
		switch respKind(name) {
		case hdrConnection:
			for v := value; len(v) > 0; {
				var tok []byte
				tok, v, _ = bytes.Cut(v, []byte(","))
				tok = bytes.TrimSpace(tok)
				switch {
				case len(tok) == 0:
				case bytes.EqualFold(tok, []byte("close")):
					connClose = true
				case bytes.EqualFold(tok, []byte("keep-alive")):
					connKeep = true
				case nconn < len(conn):
					conn[nconn] = tok
					nconn++
				}
			}
		case hdrContentLength:
			m, ok := parseLength(value)
			if !ok || (length >= 0 && m != length) {
				return ri, fmt.Errorf("%w: Content-Length %q", errBadResponse, truncate(value))
			}
			length = m
		case hdrTransferEncoding:
			codings++
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case hdrContentType:
			ri.grpc = bytes.HasPrefix(value, []byte("application/grpc"))
		case hdrGRPCStatus:
			grpcStatus = value
		}
	}
	ri.close = connClose || (minor == 0 && !connKeep)
	ri.grpcFailed = ri.grpc && grpcStatus != nil && string(grpcStatus) != "0"
	noBody := isHead || code/100 == 1 || code == 204 || code == 304
	if minor == 0 {
		codings = 0 // HTTP/1.0 has no transfer codings: framed by its length or its end
	}
	switch {
	case noBody:
		ri.length = 0
	case codings > 0:
		if codings != 1 || !chunked {
			return ri, fmt.Errorf("%w: unsupported transfer encoding", errBadResponse)
		}
		ri.length = lengthChunked
	case length >= 0:
		ri.length = length
	default:
		ri.length = lengthToEOF
		ri.close = true
	}
	if code/100 == 1 {
		return ri, nil
	}
	o := out.buf
	o = append(o, "HTTP/1.1 "...)
	o = append(o, status[9:]...)
	o = append(o, "\r\n"...)
	for pos := 0; pos < len(lines); {
		name, _, line, next, _ := headerLine(lines, pos)
		if name == nil {
			break
		}
		pos = next
		switch respKind(name) {
		case hdrOther, hdrContentType, hdrGRPCStatus, hdrTrailer:
		default:
			continue
		}
		if listedToken(conn[:nconn], name) {
			continue
		}
		o = append(o, line...)
		o = append(o, "\r\n"...)
	}
	switch {
	case ri.length == lengthChunked:
		o = append(o, "Transfer-Encoding: chunked\r\n"...)
	case ri.length >= 0 && (!noBody || (length >= 0 && code != 204)):
		o = append(o, "Content-Length: "...)
		if noBody {
			o = strconv.AppendInt(o, length, 10) // a HEAD's or a 304's: the length a GET would get
		} else {
			o = strconv.AppendInt(o, ri.length, 10)
		}
		o = append(o, "\r\n"...)
	}
	o = append(o, "X-Hugai-Version: "...)
	o = append(o, version...)
	if closeAfter || ri.length == lengthToEOF {
		o = append(o, "\r\nConnection: close"...)
	}
	o = append(o, "\r\n\r\n"...)
	out.buf = o
	return ri, nil
}

// headerLine reads the header line at b[pos:]: its name and value (without the spaces around
// it), the line without its ending and trailing spaces, and where the next line starts. name is
// nil at the empty line that ends the head; ok is false for a malformed line.
func headerLine(b []byte, pos int) (name, value, line []byte, next int, ok bool) {
	nl := bytes.IndexByte(b[pos:], '\n')
	if nl < 0 {
		return nil, nil, nil, len(b), false
	}
	l := trimCR(b[pos : pos+nl])
	next = pos + nl + 1
	if len(l) == 0 {
		return nil, nil, nil, next, true
	}
	colon := bytes.IndexByte(l, ':')
	if colon <= 0 || !isToken(l[:colon]) {
		return nil, nil, nil, next, false
	}
	l = bytes.TrimRight(l, " \t")
	v := bytes.TrimLeft(l[colon+1:], " \t")
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, nil, next, false
		}
	}
	return l[:colon], v, l, next, true
}

// listedToken reports whether name is among the tokens of a Connection header.
func listedToken(toks [][]byte, name []byte) bool {
	for _, t := range toks {
		if bytes.EqualFold(t, name) {
			return true
		}
	}
	return false
}

// Header kinds that matter in responses only.
const (
	hdrContentType = 100 + iota
	hdrGRPCStatus
	hdrTrailer
	hdrVersion
)

// respKind classifies a response header name: the request kinds, and those a response adds.
func respKind(name []byte) uint8 {
	switch len(name) {
	case 7:
		if bytes.EqualFold(name, []byte("trailer")) {
			return hdrTrailer // announces the trailers of a chunked body passed on as it is
		}
	case 11:
		if bytes.EqualFold(name, []byte("grpc-status")) {
			return hdrGRPCStatus
		}
	case 12:
		if bytes.EqualFold(name, []byte("content-type")) {
			return hdrContentType
		}
	case 15:
		if bytes.EqualFold(name, []byte("x-hugai-version")) {
			return hdrVersion // the proxy's to set
		}
	}
	return kindOf(name)
}
