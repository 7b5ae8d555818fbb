package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
)

// Bodies on the proxy's own server: copied by their length (spliced by the kernel when long),
// to the end of the upstream's connection, or chunk by chunk with the framing passed through as it
// came and checked on the way. Nothing holds a body whole.

// sink batches writes to the client: a response head and the start of its body leave in one
// write. Flush sends what is batched.
type sink struct {
	w   io.Writer
	buf []byte
}

func (s *sink) reset(w io.Writer, buf []byte) { s.w, s.buf = w, buf[:0] }

func (s *sink) Write(b []byte) (int, error) {
	if len(s.buf)+len(b) > cap(s.buf) {
		if err := s.Flush(); err != nil {
			return 0, err
		}
		if len(b) >= cap(s.buf) {
			return s.w.Write(b)
		}
	}
	s.buf = append(s.buf, b...)
	return len(b), nil
}

func (s *sink) Flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	_, err := s.w.Write(s.buf)
	s.buf = s.buf[:0]
	return err
}

// flushWriter is a buffered writer: the sink towards the client, bufio's towards an upstream.
type flushWriter interface {
	io.Writer
	Flush() error
}

// spliceMin is the body length from which a response body with a length is spliced from the
// upstream's socket to the client's by the kernel, instead of copied through the proxy.
const spliceMin = 64 << 10

// copyLength copies n bytes of body from br to w: rerr is a read error, werr a write error.
// src, when not nil, is the connection br reads from: a long body is spliced from it.
func copyLength(w flushWriter, br *bufio.Reader, src net.Conn, n int64) (rerr, werr error) {
	for n > 0 {
		if br.Buffered() == 0 {
			if n >= spliceMin && src != nil {
				if s, ok := w.(*sink); ok {
					if tc, ok := s.w.(*net.TCPConn); ok {
						return spliceN(s, tc, src, n)
					}
				}
			}
			if _, err := br.Peek(1); err != nil {
				return eofUnexpected(err), nil
			}
		}
		b, _ := br.Peek(int(min(int64(br.Buffered()), n)))
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
		br.Discard(len(b))
		n -= int64(len(b))
	}
	return nil, nil
}

// spliceN moves n bytes from an upstream's socket to the client's with splice(2) (TCPConn.ReadFrom
// does, given a limited TCP source), after what the sink holds.
func spliceN(s *sink, dst *net.TCPConn, src net.Conn, n int64) (rerr, werr error) {
	if err := s.Flush(); err != nil {
		return nil, err
	}
	lr := &io.LimitedReader{R: src, N: n}
	m, err := dst.ReadFrom(lr)
	if err != nil {
		// Which side failed is not told apart here: either ends the exchange the same way.
		return err, nil
	}
	if m < n {
		return io.ErrUnexpectedEOF, nil
	}
	return nil, nil
}

// copyToEOF copies a body delimited by the end of the upstream's connection.
func copyToEOF(w flushWriter, br *bufio.Reader) (rerr, werr error) {
	for {
		if br.Buffered() == 0 {
			if werr := w.Flush(); werr != nil {
				return nil, werr
			}
			if _, err := br.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					return nil, nil
				}
				return err, nil
			}
		}
		b, _ := br.Peek(br.Buffered())
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
		br.Discard(len(b))
	}
}

// copyChunked copies a chunked body from br to w as it is (chunk sizes, extensions, trailers),
// checking its framing on the way. What is read is flushed whenever nothing more is waiting, so a
// stream of events is not held back. grpcFail reports a grpc-status trailer other than 0.
func copyChunked(w flushWriter, br *bufio.Reader) (grpcFail bool, rerr, werr error) {
	for {
		line, err := readChunkLine(w, br)
		if err != nil {
			return false, err, nil
		}
		size, ok := parseChunkSize(line)
		if !ok {
			return false, errBadChunk, nil
		}
		if _, err := w.Write(line); err != nil {
			return false, nil, err
		}
		if size == 0 {
			// Trailers, up to the empty line.
			for i := 0; ; i++ {
				line, err := readChunkLine(w, br)
				if err != nil {
					return false, err, nil
				}
				if i == maxHeaderLines || !validTrailer(line) {
					return false, errBadChunk, nil
				}
				if _, err := w.Write(line); err != nil {
					return false, nil, err
				}
				if len(line) == 2 {
					return grpcFail, nil, nil
				}
				if k, v, _ := bytes.Cut(line[:len(line)-2], []byte(":")); bytes.EqualFold(k, []byte("grpc-status")) {
					grpcFail = string(bytes.TrimSpace(v)) != "0"
				}
			}
		}
		if rerr, werr := copyLength(w, br, nil, size); rerr != nil || werr != nil {
			return false, rerr, werr
		}
		crlf, err := readChunkLine(w, br)
		if err != nil {
			return false, err, nil
		}
		if len(crlf) != 2 {
			return false, errBadChunk, nil
		}
		if _, err := w.Write(crlf); err != nil {
			return false, nil, err
		}
	}
}

// readChunkLine reads a line of chunked framing, with its CRLF, flushing w first when the line is
// not here yet.
func readChunkLine(w flushWriter, br *bufio.Reader) ([]byte, error) {
	if br.Buffered() == 0 {
		if err := w.Flush(); err != nil {
			return nil, err // reported as a read error: the exchange ends either way
		}
	}
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errBadChunk
		}
		return nil, eofUnexpected(err)
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, errBadChunk
	}
	return line, nil
}

// parseChunkSize reads a chunk-size line (with its CRLF): hex digits, then nothing or extensions.
func parseChunkSize(line []byte) (int64, bool) {
	l := line[:len(line)-2]
	var n int64
	i := 0
	for ; i < len(l); i++ {
		c := l[i]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			goto ext
		}
		if i == 12 {
			return 0, false // past 2^48 bytes in one chunk: not a size anyone sends
		}
		n = n<<4 | int64(d)
	}
ext:
	if i == 0 {
		return 0, false
	}
	rest := l[i:]
	for len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != ';' {
		return 0, false
	}
	for _, c := range rest {
		if c < ' ' && c != '\t' || c == 0x7f {
			return 0, false
		}
	}
	return n, true
}

// validTrailer reports whether a trailer line (with its CRLF) is a header field or the empty line.
func validTrailer(line []byte) bool {
	l := line[:len(line)-2]
	if len(l) == 0 {
		return true
	}
	k, v, ok := bytes.Cut(l, []byte(":"))
	if !ok || !isToken(k) {
		return false
	}
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// chunkedEnd returns the length of the chunked body at the start of b, -1 when b does not hold
// all of it, or errBadChunk.
func chunkedEnd(b []byte) (int, error) {
	pos := 0
	line := func() ([]byte, error) {
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			return nil, nil
		}
		l := b[pos : pos+nl+1]
		if len(l) < 2 || l[len(l)-2] != '\r' {
			return nil, errBadChunk
		}
		pos += nl + 1
		return l, nil
	}
	for {
		l, err := line()
		if l == nil {
			return -1, err
		}
		size, ok := parseChunkSize(l)
		if !ok {
			return 0, errBadChunk
		}
		if size == 0 {
			for i := 0; ; i++ {
				l, err := line()
				if l == nil {
					return -1, err
				}
				if i == maxHeaderLines || !validTrailer(l) {
					return 0, errBadChunk
				}
				if len(l) == 2 {
					return pos, nil
				}
			}
		}
		if int64(len(b)-pos) < size+2 {
			return -1, nil
		}
		pos += int(size)
		if b[pos] != '\r' || b[pos+1] != '\n' {
			return 0, errBadChunk
		}
		pos += 2
	}
}
