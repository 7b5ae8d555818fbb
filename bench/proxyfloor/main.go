//go:build linux

// Command proxyfloor is the least a Go reverse proxy can do for bench/proxy.sh's load: read a
// request head, send it to one of the routes' versions at their weights over a pooled keep-alive
// connection, read the answer (Content-Length bodies only) and write it back. No features, no
// timeouts, no error answers. It is a floor to measure hugai's proxy against, not a proxy: when
// hugai's tail is far from nginx's, it tells whether Go's runtime or hugai's own code is the cause.
//
// Two models, the same work:
//
//	PROXYFLOOR=goroutine: one goroutine per client connection, blocking reads (net.Conn), as hugai
//	PROXYFLOOR=epoll:     one event loop over epoll, non-blocking sockets, as nginx
//
// It takes the arguments bench/proxy.sh gives a hugai binary, so that it runs in the same rounds:
//
//	go build -o /tmp/floor ./bench/proxyfloor && COMPARE=/tmp/floor bench/proxy.sh
//	PROXYFLOOR=epoll COMPARE=/tmp/floor bench/proxy.sh
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
)

// routes is the part of hugai's state file the floor reads.
type routes struct {
	Backends []struct {
		Weight    int      `json:"weight"`
		Endpoints []string `json:"endpoints"`
	} `json:"backends"`
}

// picker spreads requests over the versions at their weights, deterministically.
type picker struct {
	addrs  []string
	slots  []int // 100 entries: the version of each percent
	served int
}

func (p *picker) next() int {
	p.served++
	return p.slots[p.served%len(p.slots)]
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "proxyfloor:", err)
		os.Exit(1)
	}
}

func run() error {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "proxy" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("proxyfloor", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve")
	state := fs.String("state-file", "", "hugai routes file (JSON)")
	fs.String("admin", "", "ignored (hugai's)")
	fs.String("admin-socket", "", "ignored (hugai's)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := os.ReadFile(*state)
	if err != nil {
		return err
	}
	var r routes
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("%s: %w", *state, err)
	}
	p := &picker{}
	for i, be := range r.Backends {
		if len(be.Endpoints) == 0 {
			return fmt.Errorf("%s: backend %d has no endpoints", *state, i)
		}
		p.addrs = append(p.addrs, be.Endpoints[0])
		for range be.Weight {
			p.slots = append(p.slots, i)
		}
	}
	if len(p.slots) == 0 {
		return fmt.Errorf("%s: no weights", *state)
	}
	switch model := os.Getenv("PROXYFLOOR"); model {
	case "epoll":
		return serveEpoll(*listen, p)
	case "", "goroutine":
		return serveGoroutines(*listen, p)
	default:
		return fmt.Errorf("PROXYFLOOR=%q: want goroutine or epoll", model)
	}
}

var (
	headEnd = []byte("\r\n\r\n")
	lenKey  = []byte("\r\nContent-Length:")
)

// answerLen is the length of the whole answer at the start of b, or -1 while it is incomplete.
func answerLen(b []byte) (int, error) {
	end := bytes.Index(b, headEnd)
	if end < 0 {
		return -1, nil
	}
	head := b[:end+2]
	i := bytes.Index(head, lenKey)
	if i < 0 {
		return 0, fmt.Errorf("an answer without Content-Length: %q", head)
	}
	n := 0
	for _, d := range head[i+len(lenKey):] {
		if d == '\r' {
			break
		}
		if d >= '0' && d <= '9' {
			n = n*10 + int(d-'0')
		}
	}
	if total := end + len(headEnd) + n; len(b) >= total {
		return total, nil
	}
	return -1, nil
}

func serveGoroutines(addr string, p *picker) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var mu sync.Mutex // guards p and pools
	pools := make([][]net.Conn, len(p.addrs))
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			in := make([]byte, 16<<10)
			out := make([]byte, 16<<10)
			n := 0
			for {
				end := bytes.Index(in[:n], headEnd)
				for end < 0 {
					m, err := c.Read(in[n:])
					if err != nil {
						return
					}
					n += m
					end = bytes.Index(in[:n], headEnd)
				}
				end += len(headEnd)
				mu.Lock()
				v := p.next()
				var u net.Conn
				if k := len(pools[v]); k > 0 {
					u, pools[v] = pools[v][k-1], pools[v][:k-1]
				}
				mu.Unlock()
				if u == nil {
					if u, err = net.Dial("tcp", p.addrs[v]); err != nil {
						return
					}
				}
				if _, err := u.Write(in[:end]); err != nil {
					return
				}
				n = copy(in, in[end:n])
				got, total := 0, -1
				for total < 0 {
					m, err := u.Read(out[got:])
					if err != nil {
						return
					}
					got += m
					if total, err = answerLen(out[:got]); err != nil {
						return
					}
				}
				if _, err := c.Write(out[:total]); err != nil {
					return
				}
				mu.Lock()
				pools[v] = append(pools[v], u)
				mu.Unlock()
			}
		}()
	}
}

// econn is a socket of the event loop: a client's, or an upstream's lent to peer.
type econn struct {
	fd      int
	version int // an upstream's; -1 for a client
	peer    *econn
	buf     []byte
	n       int
}

type loop struct {
	ep    int
	p     *picker
	conns map[int]*econn
	pools [][]*econn
	addrs []syscall.SockaddrInet4
}

func serveEpoll(addr string, p *picker) error {
	lp := &loop{p: p, conns: map[int]*econn{}, pools: make([][]*econn, len(p.addrs))}
	for _, a := range p.addrs {
		sa, err := sockaddr(a)
		if err != nil {
			return err
		}
		lp.addrs = append(lp.addrs, sa)
	}
	lsa, err := sockaddr(addr)
	if err != nil {
		return err
	}
	lfd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if err := syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return err
	}
	if err := syscall.Bind(lfd, &lsa); err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	if err := syscall.Listen(lfd, 4096); err != nil {
		return err
	}
	if lp.ep, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		return err
	}
	if err := lp.watch(lfd); err != nil {
		return err
	}
	events := make([]syscall.EpollEvent, 512)
	for {
		n, err := syscall.EpollWait(lp.ep, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				lp.accept(lfd)
				continue
			}
			if c := lp.conns[fd]; c == nil {
				continue
			} else if c.version >= 0 {
				lp.upstreamReadable(c)
			} else {
				lp.clientReadable(c)
			}
		}
	}
}

func sockaddr(addr string) (syscall.SockaddrInet4, error) {
	a, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		return syscall.SockaddrInet4{}, err
	}
	sa := syscall.SockaddrInet4{Port: a.Port}
	copy(sa.Addr[:], a.IP.To4())
	return sa, nil
}

func (lp *loop) watch(fd int) error {
	return syscall.EpollCtl(lp.ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)})
}

func (lp *loop) accept(lfd int) {
	for {
		fd, _, err := syscall.Accept4(lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		lp.conns[fd] = &econn{fd: fd, version: -1, buf: make([]byte, 16<<10)}
		if lp.watch(fd) != nil {
			lp.close(lp.conns[fd])
		}
	}
}

func (lp *loop) close(c *econn) {
	if c == nil {
		return
	}
	syscall.EpollCtl(lp.ep, syscall.EPOLL_CTL_DEL, c.fd, nil)
	syscall.Close(c.fd)
	delete(lp.conns, c.fd)
	if c.peer != nil {
		c.peer.peer = nil
		lp.close(c.peer)
	}
}

// fill reads what c has into its buffer and reports whether anything came; a socket that ended (or
// failed) is closed, with its peer.
func (lp *loop) fill(c *econn) bool {
	m, err := syscall.Read(c.fd, c.buf[c.n:])
	if err == syscall.EAGAIN {
		return false
	}
	if m <= 0 {
		lp.close(c)
		return false
	}
	c.n += m
	return true
}

func (lp *loop) clientReadable(c *econn) {
	if lp.fill(c) {
		lp.forward(c)
	}
}

// forward sends the request at the start of c's buffer, when it is whole and c waits for nothing.
func (lp *loop) forward(c *econn) {
	if c.peer != nil {
		return // pipelined: the answer before is still on its way
	}
	end := bytes.Index(c.buf[:c.n], headEnd)
	if end < 0 {
		return
	}
	end += len(headEnd)
	v := lp.p.next()
	var u *econn
	if k := len(lp.pools[v]); k > 0 {
		u, lp.pools[v] = lp.pools[v][k-1], lp.pools[v][:k-1]
	} else if u = lp.dial(v); u == nil {
		lp.close(c)
		return
	}
	u.peer, c.peer = c, u
	if writeAll(u.fd, c.buf[:end]) != nil {
		lp.close(c)
		return
	}
	c.n = copy(c.buf, c.buf[end:c.n])
}

// dial connects to version v, blocking: the floor measures the steady state, with its pools full.
func (lp *loop) dial(v int) *econn {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if syscall.Connect(fd, &lp.addrs[v]) != nil || syscall.SetNonblock(fd, true) != nil {
		syscall.Close(fd)
		return nil
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	u := &econn{fd: fd, version: v, buf: make([]byte, 16<<10)}
	lp.conns[fd] = u
	if lp.watch(fd) != nil {
		lp.close(u)
		return nil
	}
	return u
}

// writeAll writes b to a non-blocking socket. The answers are small enough for the socket's buffer;
// spinning on EAGAIN would do for the rest.
func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		m, err := syscall.Write(fd, b)
		if err != nil && err != syscall.EAGAIN {
			return err
		}
		if m > 0 {
			b = b[m:]
		}
	}
	return nil
}

func (lp *loop) upstreamReadable(u *econn) {
	if !lp.fill(u) {
		return
	}
	total, err := answerLen(u.buf[:u.n])
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxyfloor:", err)
		lp.close(u)
		return
	}
	if total < 0 {
		return
	}
	c := u.peer
	u.peer, u.n = nil, 0
	if c == nil {
		lp.close(u)
		return
	}
	c.peer = nil
	lp.pools[u.version] = append(lp.pools[u.version], u)
	if writeAll(c.fd, u.buf[:total]) != nil {
		lp.close(c)
		return
	}
	lp.forward(c) // a pipelined request may be waiting
}
