// Command wsload measures a proxy's WebSocket path: it serves WebSocket echo upstreams, and it is
// the load client that drives them through a proxy. bench/proxy.sh runs it with WS=1.
//
//	wsload -serve 127.0.0.1:9001,127.0.0.1:9002       # echo upstreams, until killed
//	wsload -addr 127.0.0.1:8080 -c 64 -d 10s          # messages: each connection echoes 64-byte text frames
//	wsload -addr 127.0.0.1:8080 -c 64 -d 10s -connect # upgrades: open, one echo, close, again
//
// It prints one line, "rate p50 p99 errors", the rate being messages/s or upgrades/s and the
// latencies those of one echo (or one whole upgrade with its echo), after a 2 s warm-up. The
// frames are RFC 6455's, written here rather than taken from a library: the bench needs only
// short text frames and must not be the bottleneck.
package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func main() {
	serve := flag.String("serve", "", "comma-separated addresses to serve WebSocket echo upstreams on")
	addr := flag.String("addr", "", "the proxy's address to load")
	conns := flag.Int("c", 64, "connections")
	dur := flag.Duration("d", 10*time.Second, "measured duration, after a 2 s warm-up")
	connect := flag.Bool("connect", false, "measure upgrades (open, one echo, close) instead of messages")
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = serveEcho(strings.Split(*serve, ","))
	case *addr != "":
		err = load(*addr, *conns, *dur, *connect)
	default:
		err = errors.New("give -serve or -addr")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsload:", err)
		os.Exit(1)
	}
}

func serveEcho(addrs []string) error {
	errc := make(chan error, len(addrs))
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return err
		}
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					errc <- err
					return
				}
				go echo(c)
			}
		}()
	}
	return <-errc
}

// echo answers the upgrade and sends every frame back unmasked, until the client closes.
func echo(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	key := req.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") || key == "" {
		io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+accept(key)+"\r\n\r\n"); err != nil {
		return
	}
	out := make([]byte, 0, 256)
	for {
		op, payload, err := readFrame(br)
		if err != nil {
			return
		}
		if op == 0x8 { // close: answer it
			c.Write(appendFrame(out[:0], 0x8, payload, false))
			return
		}
		if _, err := c.Write(appendFrame(out[:0], op, payload, false)); err != nil {
			return
		}
	}
}

func accept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// readFrame reads one frame of at most 125 bytes of payload, unmasked in place.
func readFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	h, err := br.Peek(2)
	if err != nil {
		return 0, nil, err
	}
	op, masked, n := h[0]&0x0f, h[1]&0x80 != 0, int(h[1]&0x7f)
	if h[0]&0x80 == 0 || n > 125 {
		return 0, nil, errors.New("wsload handles only whole frames of up to 125 bytes")
	}
	size := 2 + n
	if masked {
		size += 4
	}
	f, err := br.Peek(size)
	if err != nil {
		return 0, nil, err
	}
	payload = f[size-n:]
	if masked {
		mask := f[2:6]
		for i := range payload {
			payload[i] ^= mask[i%4]
		}
	}
	br.Discard(size)
	return op, payload, nil
}

func appendFrame(b []byte, op byte, payload []byte, masked bool) []byte {
	b = append(b, 0x80|op)
	if !masked {
		return append(append(b, byte(len(payload))), payload...)
	}
	b = append(b, 0x80|byte(len(payload)), 0x12, 0x34, 0x56, 0x78)
	mask := b[len(b)-4:]
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// client is one WebSocket connection of the load.
type client struct {
	c   net.Conn
	br  *bufio.Reader
	out []byte
	msg []byte
}

func dial(addr string) (*client, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var k [16]byte
	rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	if _, err := fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", addr, key); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != accept(key) {
		c.Close()
		return nil, fmt.Errorf("upgrade answered %s", resp.Status)
	}
	return &client{c: c, br: br, out: make([]byte, 0, 256), msg: []byte(strings.Repeat("m", 64))}, nil
}

func (cl *client) echo() error {
	if _, err := cl.c.Write(appendFrame(cl.out[:0], 0x1, cl.msg, true)); err != nil {
		return err
	}
	code, p, err := readFrame(cl.br)
	if err != nil {
		return err
	}
	if code != 0x1 || string(p) != string(cl.msg) {
		return fmt.Errorf("echo came back as opcode %d, %d bytes", code, len(p))
	}
	return nil
}

func (cl *client) close() {
	cl.c.Write(appendFrame(cl.out[:0], 0x8, []byte{0x03, 0xe8}, true))
	cl.c.SetReadDeadline(time.Now().Add(time.Second))
	readFrame(cl.br) // the close's answer
	cl.c.Close()
}

// load runs conns workers for 2 s of warm-up and then dur, and prints the rate and latencies of
// the measured part.
func load(addr string, conns int, dur time.Duration, connect bool) error {
	var measuring, stop atomic.Bool
	var failures atomic.Int64
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cl *client
			defer func() {
				if cl != nil {
					cl.close()
				}
			}()
			for !stop.Load() {
				t0 := time.Now()
				var err error
				if cl == nil {
					cl, err = dial(addr)
				}
				if err == nil {
					err = cl.echo()
				}
				if err == nil && connect {
					cl.close()
					cl = nil
				}
				if err != nil {
					failures.Add(1)
					if cl != nil {
						cl.c.Close()
						cl = nil
					}
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if measuring.Load() {
					lat[i] = append(lat[i], time.Since(t0))
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	failures.Store(0)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(dur)
	measuring.Store(false)
	elapsed := time.Since(start)
	stop.Store(true)
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return fmt.Errorf("no echo succeeded (%d failures)", failures.Load())
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	q := func(f float64) string { return fmt.Sprintf("%.2fms", float64(all[int(f*float64(len(all)-1))])/1e6) }
	fmt.Printf("%.0f %s %s %d\n", float64(len(all))/elapsed.Seconds(), q(0.5), q(0.99), failures.Load())
	return nil
}
