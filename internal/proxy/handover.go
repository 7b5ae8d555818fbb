package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// A proxy restarts without dropping a request or an open stream: the new process asks the running
// one, on its admin socket, for its listening sockets (SCM_RIGHTS), serves on them at once, and
// takes the admin socket's path over; the old one stops accepting, lets its connections finish
// (each keep-alive connection closed after its next response, HTTP/2 ones with a GOAWAY) and its
// streams run to their end, applying the route changes the new one forwards to it (a rollback
// still cuts its streams), then hands its last seconds of counters over and exits. The listening
// sockets never close, so no connection attempt is refused meanwhile.
//
// The exchange on the admin socket, after `POST /v1/handover`:
//
//	old → new  magic "HUGAIHO1", a big-endian uint64 length, then that much JSON (handoverState);
//	           the listening sockets ride on the first bytes as SCM_RIGHTS
//	new → old  "ready\n" once it serves; then one JSON line per route change ({"routes": …})
//	old → new  one JSON line ({"stats": …}) with its counters since the hand-over, then EOF

const handoverMagic = "HUGAIHO1"

// handoverTimeout bounds each side's wait for the other during the exchange.
const handoverTimeout = 15 * time.Second

// idleDrain is how long the old proxy waits for keep-alive connections to carry one more request
// (answered with Connection: close) before it closes the ones still idle.
const idleDrain = 2 * time.Second

// handoverState is what the old proxy hands over besides its sockets.
type handoverState struct {
	// Listeners names the sockets in the order they were sent: listen, admin, preview.
	Listeners []string `json:"listeners"`
	Routes    *Routes  `json:"routes,omitempty"`
	// Stats is the counters' history so far; From is the first second it does not hold, which the
	// old proxy sends when it exits.
	Stats Stats `json:"stats"`
	From  int64 `json:"from"`
}

// handoverLine is one message after the exchange.
type handoverLine struct {
	Routes *Routes `json:"routes,omitempty"`
	Stats  *Stats  `json:"stats,omitempty"`
}

// served are the listeners Serve serves, for a hand-over.
type served struct {
	data, admin, preview, adminSock net.Listener
}

// handoff is a hand-over the old proxy agreed to: Serve drains when it arrives.
type handoff struct {
	conn *net.UnixConn
	rd   *bufio.Reader
	from int64
}

// Handed is what a new proxy got from the one it took over from.
type Handed struct {
	Data, Admin, Preview net.Listener
	conn                 *net.UnixConn
	rd                   *bufio.Reader
	wmu                  sync.Mutex
	routes               *Routes
	stats                Stats
}

// TakeOver asks the proxy answering on adminSocket for its listening sockets, its routes and its
// counters. Nothing changes for the running proxy until Ready is called: if the caller gives up,
// it closes the Handed and the old proxy carries on alone.
func TakeOver(ctx context.Context, adminSocket string) (*Handed, error) {
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "unix", adminSocket)
	if err != nil {
		return nil, fmt.Errorf("take over %s: %w", adminSocket, err)
	}
	uc := c.(*net.UnixConn)
	fail := func(err error) (*Handed, error) {
		uc.Close()
		return nil, fmt.Errorf("take over %s: %w", adminSocket, err)
	}
	uc.SetDeadline(time.Now().Add(handoverTimeout))
	if _, err := io.WriteString(uc, "POST /v1/handover HTTP/1.1\r\nHost: proxy\r\nContent-Length: 0\r\n\r\n"); err != nil {
		return fail(err)
	}
	// The sockets come with the first bytes: read them with recvmsg before anything buffers.
	buf := make([]byte, 64<<10)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, flags, _, err := uc.ReadMsgUnix(buf, oob)
	if err != nil {
		return fail(err)
	}
	files, ferr := rights(oob[:oobn], flags)
	closeFiles := func() {
		for _, f := range files {
			f.Close()
		}
	}
	if n < len(handoverMagic)+8 || string(buf[:len(handoverMagic)]) != handoverMagic {
		closeFiles()
		return fail(fmt.Errorf("refused: %.200s", buf[:n]))
	}
	if ferr != nil {
		closeFiles()
		return fail(ferr)
	}
	size := binary.BigEndian.Uint64(buf[len(handoverMagic):])
	if size > 1<<30 {
		closeFiles()
		return fail(fmt.Errorf("state of %d bytes", size))
	}
	body := append([]byte(nil), buf[len(handoverMagic)+8:n]...)
	rd := bufio.NewReader(uc)
	if uint64(len(body)) < size {
		rest := make([]byte, size-uint64(len(body)))
		if _, err := io.ReadFull(rd, rest); err != nil {
			closeFiles()
			return fail(err)
		}
		body = append(body, rest...)
	}
	var st handoverState
	if err := json.Unmarshal(body[:size], &st); err != nil {
		closeFiles()
		return fail(fmt.Errorf("state: %w", err))
	}
	if len(st.Listeners) != len(files) {
		closeFiles()
		return fail(fmt.Errorf("%d sockets for %d listeners", len(files), len(st.Listeners)))
	}
	h := &Handed{conn: uc, rd: rd, routes: st.Routes, stats: st.Stats}
	for i, f := range files {
		l, err := net.FileListener(f)
		f.Close() // FileListener holds its own copy
		if err != nil {
			h.Close()
			closeFiles()
			return fail(fmt.Errorf("listener %s: %w", st.Listeners[i], err))
		}
		switch st.Listeners[i] {
		case "listen":
			h.Data = l
		case "admin":
			h.Admin = l
		case "preview":
			h.Preview = l
		default:
			l.Close()
		}
	}
	if h.Data == nil {
		h.Close()
		return fail(errors.New("no listen socket handed over"))
	}
	uc.SetDeadline(time.Time{})
	return h, nil
}

// rights reads the file descriptors of a control message.
func rights(oob []byte, flags int) ([]*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "handed-over"))
		}
	}
	if flags&syscall.MSG_CTRUNC != 0 {
		return files, errors.New("control message truncated: sockets lost")
	}
	return files, nil
}

// Close gives the sockets back (the old proxy still holds its own) and ends the exchange.
func (h *Handed) Close() {
	for _, l := range []net.Listener{h.Data, h.Admin, h.Preview} {
		if l != nil {
			l.Close()
		}
	}
	h.conn.Close()
}

// adopt makes p the successor: the old proxy's routes and counters become its own. Call it before
// Serve.
func (p *Proxy) adopt(h *Handed) error {
	if h.routes != nil {
		if err := p.SetRoutes(*h.routes); err != nil {
			return fmt.Errorf("handed-over routes: %w", err)
		}
	}
	p.hist.merge(h.stats)
	p.mu.Lock()
	p.predecessor = h
	p.mu.Unlock()
	if h.Preview != nil {
		p.ServePreviewOn(h.Preview)
	}
	return nil
}

// ready tells the old proxy to stop accepting, and waits (in the background) for its last counters.
func (p *Proxy) ready(h *Handed) error {
	h.wmu.Lock()
	_, err := io.WriteString(h.conn, "ready\n")
	h.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("hand-over: %w", err)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer func() {
			p.mu.Lock()
			p.predecessor = nil
			p.mu.Unlock()
			h.conn.Close()
		}()
		for {
			line, err := h.rd.ReadBytes('\n')
			if err != nil {
				return // the old proxy is gone
			}
			var m handoverLine
			if json.Unmarshal(line, &m) == nil && m.Stats != nil {
				p.hist.merge(*m.Stats)
			}
		}
	}()
	return nil
}

// forward sends a route change to the draining predecessor, so that a rollback also cuts the
// streams it still carries. p.mu is held.
func (p *Proxy) forwardLocked(r Routes) {
	h := p.predecessor
	if h == nil {
		return
	}
	b, err := json.Marshal(handoverLine{Routes: &r})
	if err != nil {
		return
	}
	go func() {
		h.wmu.Lock()
		defer h.wmu.Unlock()
		h.conn.SetWriteDeadline(time.Now().Add(handoverTimeout))
		h.conn.Write(append(b, '\n'))
	}()
}

// handover is the old proxy's side: POST /v1/handover on the admin socket.
func (p *Proxy) handover(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	sv := p.served
	busy := p.handingOver
	if sv == nil || busy {
		p.mu.Unlock()
		writeJSON(w, http.StatusConflict, apiError{"not serving, or handing over already"})
		return
	}
	p.handingOver = true
	p.mu.Unlock()
	release := func() {
		p.mu.Lock()
		p.handingOver = false
		p.mu.Unlock()
	}
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		release()
		writeJSON(w, http.StatusInternalServerError, apiError{fmt.Sprintf("hijack: %v", err)})
		return
	}
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		release()
		conn.Close()
		return
	}
	if err := p.sendState(uc, sv); err != nil {
		release()
		uc.Close()
		return
	}
	uc.SetReadDeadline(time.Now().Add(handoverTimeout))
	rd := bufio.NewReader(uc)
	line, err := rd.ReadString('\n')
	if err != nil || line != "ready\n" {
		// The new proxy gave up: carry on as if nothing happened.
		release()
		uc.Close()
		return
	}
	uc.SetReadDeadline(time.Time{})
	p.mu.Lock()
	from := p.handedFrom
	p.mu.Unlock()
	p.handoff <- &handoff{conn: uc, rd: rd, from: from}
}

// sendState sends the listening sockets, the routes and the counters so far.
func (p *Proxy) sendState(uc *net.UnixConn, sv *served) error {
	st := handoverState{}
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, l := range []struct {
		name string
		l    net.Listener
	}{{"listen", sv.data}, {"admin", sv.admin}, {"preview", sv.preview}} {
		if l.l == nil {
			continue
		}
		fl, ok := l.l.(interface{ File() (*os.File, error) })
		if !ok {
			return fmt.Errorf("listener %s cannot be handed over", l.name)
		}
		f, err := fl.File()
		if err != nil {
			return err
		}
		files = append(files, f)
		st.Listeners = append(st.Listeners, l.name)
	}
	if t := p.table.Load(); t != nil {
		r := t.routes
		st.Routes = &r
	}
	// The history up to the last second collected; the old proxy keeps counting from there and
	// sends the rest when it exits.
	st.Stats, st.From = p.hist.through()
	p.mu.Lock()
	p.handedFrom = st.From
	p.mu.Unlock()
	body, err := json.Marshal(st)
	if err != nil {
		return err
	}
	msg := make([]byte, 0, len(handoverMagic)+8+len(body))
	msg = append(msg, handoverMagic...)
	msg = binary.BigEndian.AppendUint64(msg, uint64(len(body)))
	msg = append(msg, body...)
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	uc.SetWriteDeadline(time.Now().Add(handoverTimeout))
	n, _, err := uc.WriteMsgUnix(msg, syscall.UnixRights(fds...), nil)
	if err != nil {
		return err
	}
	if n < len(msg) {
		if _, err := uc.Write(msg[n:]); err != nil {
			return err
		}
	}
	uc.SetWriteDeadline(time.Time{})
	return nil
}

// drain is Serve's end after a hand-over: stop accepting (the successor holds the sockets), let
// connections and streams finish, apply the route changes the successor forwards, send the
// counters since the hand-over, and return.
func (p *Proxy) drain(parent context.Context, ho *handoff, sv *served, servers []server) {
	p.draining.Store(true)
	p.noSave.Store(true) // the state file is the successor's now
	if ul, ok := sv.adminSock.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the path is the successor's socket now
	}
	for _, l := range []net.Listener{sv.data, sv.admin, sv.preview, sv.adminSock} {
		if l != nil {
			l.Close()
		}
	}
	// The admin API is the successor's: its clients (the server pushing routes, reading stats)
	// must reach it, so the admin connections end now; a request on one finishes first.
	var users []server
	for _, s := range servers {
		if !s.user {
			go s.srv.Shutdown(parent)
			continue
		}
		users = append(users, s)
	}
	servers = users
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			line, err := ho.rd.ReadBytes('\n')
			if err != nil {
				return
			}
			var m handoverLine
			if json.Unmarshal(line, &m) == nil && m.Routes != nil {
				_ = p.SetRoutes(*m.Routes) // a stale one is the successor's business
			}
		}
	}()
	// Keep-alive connections close after their next response (Connection: close); those still
	// idle after idleDrain are closed by Shutdown, which waits for the rest.
	ctx, cancel := context.WithTimeout(parent, p.opts.maxDrain())
	defer cancel()
	deadline := time.Now().Add(idleDrain)
	for p.conns.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	for _, s := range servers {
		s.srv.Shutdown(ctx)
	}
	// Streams run to their end (or their drain, or a cut the successor forwards).
	streamsDone := make(chan struct{})
	go func() {
		for p.streams.open() > 0 && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
		close(streamsDone)
	}()
	<-streamsDone
	// One more collect, so the last partial second is counted too.
	p.hist.collect(time.Now().Unix())
	st := p.hist.stats(time.Unix(ho.from, 0))
	if b, err := json.Marshal(handoverLine{Stats: &st}); err == nil {
		ho.conn.SetWriteDeadline(time.Now().Add(handoverTimeout))
		ho.conn.Write(append(b, '\n'))
	}
	ho.conn.CloseWrite()
	ho.conn.Close()
	<-done
}

// countConn keeps p.conns, the user connections open, for the drain.
func (p *Proxy) countConn(_ net.Conn, s http.ConnState) {
	switch s {
	case http.StateNew:
		p.conns.Add(1)
	case http.StateHijacked, http.StateClosed:
		p.conns.Add(-1)
	}
}

// runTakingOver is Run for a restart: the sockets of the running proxy where the addresses are
// the same (a changed address is listened on anew, and the old one stops with the old proxy).
func (p *Proxy) runTakingOver(ctx context.Context) error {
	o := p.opts
	h, err := TakeOver(ctx, o.AdminSocket)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	var opened []net.Listener
	fail := func(err error) error {
		for _, l := range opened {
			l.Close()
		}
		h.Close()
		return err
	}
	pick := func(handed *net.Listener, want, what string) (net.Listener, error) {
		l := *handed
		if l != nil && sameAddr(want, l.Addr()) {
			*handed = nil // ours now
			opened = append(opened, l)
			return l, nil
		}
		if want == "" {
			return nil, nil
		}
		nl, err := lc.Listen(ctx, "tcp", want)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", what, err)
		}
		opened = append(opened, nl)
		return nl, nil
	}
	data, err := pick(&h.Data, o.Listen, "listen")
	if err != nil {
		return fail(err)
	}
	admin, err := pick(&h.Admin, o.Admin, "admin")
	if err != nil {
		return fail(err)
	}
	preview, err := pick(&h.Preview, o.Preview, "preview")
	if err != nil {
		return fail(err)
	}
	// What was handed over and is not wanted (an address that changed) goes back.
	for _, l := range []net.Listener{h.Data, h.Admin, h.Preview} {
		if l != nil {
			l.Close()
		}
	}
	h.Data, h.Admin, h.Preview = nil, nil, nil
	sock, err := replaceUnix(ctx, o.AdminSocket)
	if err != nil {
		return fail(err)
	}
	opened = append(opened, sock)
	if err := p.adopt(h); err != nil {
		return fail(err)
	}
	if preview != nil {
		p.ServePreviewOn(preview)
	}
	if err := p.ready(h); err != nil {
		return fail(err)
	}
	return p.Serve(ctx, data, admin, sock)
}

// sameAddr says whether a listener on got serves the address want names.
func sameAddr(want string, got net.Addr) bool {
	w, err := net.ResolveTCPAddr("tcp", want)
	g, ok := got.(*net.TCPAddr)
	if err != nil || !ok || w.Port != g.Port {
		return false
	}
	if len(w.IP) == 0 || w.IP.IsUnspecified() {
		return g.IP.IsUnspecified()
	}
	return w.IP.Equal(g.IP)
}

// replaceUnix listens on a unix socket at path in place of the one there, without a moment in
// which the path is missing: bound beside it, then renamed over it.
func replaceUnix(ctx context.Context, path string) (net.Listener, error) {
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".hugai-proxy-%d.sock", os.Getpid()))
	if len(tmp) > 107 {
		_ = os.Remove(path)
		return listenUnix(ctx, path)
	}
	_ = os.Remove(tmp)
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("listen admin socket: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket mode: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	// The listener would unlink tmp on close, which is gone: unlinking the path is the stopper's job.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	return l, nil
}
