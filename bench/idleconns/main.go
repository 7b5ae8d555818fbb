// Command idleconns measures what idle keep-alive connections cost a proxy: for each proxy named
// on the command line it opens N connections, sends one GET on each and reads the answer, then
// holds them all open and reads the proxy process's resident memory (VmRSS) before and after.
// bench/proxy.sh runs it with IDLE="1000 10000".
//
//	idleconns -n 1000 nginx=127.0.0.1:8080@1234 hugai=127.0.0.1:8081@1235   # name=addr@pid
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	n := flag.Int("n", 1000, "idle connections per proxy")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: idleconns -n N name=host:port@pid ...")
		os.Exit(2)
	}
	for _, arg := range flag.Args() {
		if err := measure(arg, *n); err != nil {
			fmt.Fprintln(os.Stderr, "idleconns:", err)
			os.Exit(1)
		}
	}
}

func measure(arg string, n int) error {
	name, rest, ok := strings.Cut(arg, "=")
	addr, pidText, ok2 := strings.Cut(rest, "@")
	pid, err := strconv.Atoi(pidText)
	if !ok || !ok2 || err != nil {
		return fmt.Errorf("%q: want name=host:port@pid", arg)
	}
	before, err := rss(pid)
	if err != nil {
		return err
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for range n {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return fmt.Errorf("%s: connection %d: %w", name, len(conns)+1, err)
		}
		conns = append(conns, c)
		if err := oneRequest(c); err != nil {
			return fmt.Errorf("%s: connection %d: %w", name, len(conns), err)
		}
	}
	time.Sleep(2 * time.Second) // let the proxy settle (Go's GC, nginx's buffers)
	after, err := rss(pid)
	if err != nil {
		return err
	}
	fmt.Printf("%-8s %6d idle connections: RSS %7.1f MiB -> %7.1f MiB, %6.1f KiB per connection (opened in %s)\n",
		name, n, mib(before), mib(after), float64(after-before)/float64(n)/1024, time.Since(start).Round(time.Millisecond))
	return nil
}

// oneRequest sends a GET on c and reads the whole answer, leaving the connection open.
func oneRequest(c net.Conn) error {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("answered %s", resp.Status)
	}
	_, err = bufio.NewReader(resp.Body).WriteTo(discard{})
	return err
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

// rss reads a process's resident set size in bytes.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
