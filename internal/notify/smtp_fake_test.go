package notify

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
)

// fakeSMTP speaks enough of RFC 5321 for net/smtp: the 220 greeting, EHLO/HELO, MAIL FROM,
// RCPT TO, DATA (ended by a lone "." line, dot-stuffing undone), RSET, NOOP and QUIT, answering 503
// to commands out of order. It records each delivered message with its envelope.
type fakeSMTP struct {
	addr string
	mu   sync.Mutex
	msgs []smtpMessage
	errs []string
	// auth, when set, is the "user:password" AUTH PLAIN must carry before MAIL (RFC 4954).
	auth string
}

type smtpMessage struct {
	from string
	to   []string
	data []byte
}

func newFakeSMTP(t *testing.T) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { f.serve(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, e := range f.protocolErrors() {
			t.Errorf("smtp protocol: %s", e)
		}
	})
	return f
}

func (f *fakeSMTP) messages() []smtpMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]smtpMessage(nil), f.msgs...)
}

func (f *fakeSMTP) protocolErrors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

func (f *fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	reply := func(s string) { c.Write([]byte(s + "\r\n")) }
	protoErr := func(s string) {
		f.mu.Lock()
		f.errs = append(f.errs, s)
		f.mu.Unlock()
	}
	reply("220 fake.test ESMTP ready")
	var greeted, authed bool
	var cur *smtpMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if !strings.HasSuffix(line, "\r\n") {
			protoErr("command line not ended by CRLF: " + line)
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		switch strings.ToUpper(verb) {
		case "EHLO":
			if arg == "" {
				reply("501 EHLO needs a domain")
				continue
			}
			greeted = true
			reply("250-fake.test greets " + arg)
			if f.auth != "" {
				reply("250-AUTH PLAIN")
			}
			reply("250 8BITMIME")
		case "AUTH":
			mech, resp, _ := strings.Cut(arg, " ")
			raw, err := base64.StdEncoding.DecodeString(resp)
			parts := strings.Split(string(raw), "\x00")
			if mech != "PLAIN" || err != nil || len(parts) != 3 || parts[1]+":"+parts[2] != f.auth {
				reply("535 authentication failed")
				continue
			}
			authed = true
			reply("235 authenticated")
		case "HELO":
			greeted = true
			reply("250 fake.test")
		case "MAIL":
			if f.auth != "" && !authed {
				reply("530 authentication required")
				continue
			}
			if !greeted || !strings.HasPrefix(strings.ToUpper(arg), "FROM:") || cur != nil {
				protoErr("MAIL out of order or malformed: " + line)
				reply("503 bad sequence")
				continue
			}
			cur = &smtpMessage{from: path(arg[5:])}
			reply("250 ok")
		case "RCPT":
			if cur == nil || !strings.HasPrefix(strings.ToUpper(arg), "TO:") {
				protoErr("RCPT out of order or malformed: " + line)
				reply("503 bad sequence")
				continue
			}
			cur.to = append(cur.to, path(arg[3:]))
			reply("250 ok")
		case "DATA":
			if cur == nil || len(cur.to) == 0 {
				protoErr("DATA without MAIL and RCPT")
				reply("503 bad sequence")
				continue
			}
			reply("354 end with <CRLF>.<CRLF>")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if !strings.HasSuffix(l, "\r\n") {
					protoErr("data line not ended by CRLF: " + l)
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.data = data.Bytes()
			f.mu.Lock()
			f.msgs = append(f.msgs, *cur)
			f.mu.Unlock()
			cur = nil
			reply("250 queued")
		case "RSET":
			cur = nil
			reply("250 ok")
		case "NOOP":
			reply("250 ok")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 command not implemented")
		}
	}
}

// path reads "<addr>" (with optional ESMTP parameters after it) from a MAIL or RCPT argument.
func path(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '>'); strings.HasPrefix(s, "<") && i > 0 {
		return s[1:i]
	}
	return "malformed:" + s
}
