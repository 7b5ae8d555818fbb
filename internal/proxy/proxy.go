package proxy

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a proxy process.
type Options struct {
	Listen      string        // user traffic, e.g. 127.0.0.1:8080
	Admin       string        // TCP address for /metrics and /healthz; empty for none
	Preview     string        // TCP address that sends every request to the preview version; empty for none
	AdminSocket string        // unix socket for the admin API (mode 0600)
	StateFile   string        // the last routes, written on every update and reloaded on start; empty for none
	History     time.Duration // per-second history kept; default 15m
	// TLSCert and TLSKey are PEM files for TLS on Listen (HTTP/2 and HTTP/1.1 by ALPN); empty for
	// plain TCP (HTTP/1.1, and HTTP/2 with prior knowledge). The files are read again when they
	// change, for new connections.
	TLSCert, TLSKey string
	// HeaderTimeout bounds how long a client may take to send a request's head (default 30s): a
	// slow client (slowloris) is closed then, and holds nothing meanwhile but its connection.
	HeaderTimeout time.Duration
	// HeaderRouting says whose X-Hugai-Route is honoured on Listen; nobody's by default. The
	// preview address needs none: every request there goes to the preview version.
	HeaderRouting HeaderRouting
	// MaxDrain bounds how long a proxy that handed its sockets over waits for its connections and
	// streams to end before it closes them (default 1h).
	MaxDrain time.Duration
	// NetHTTPServer serves user traffic with net/http's server alone instead of the proxy's own
	// HTTP/1.1 server (h1server.go) in front of it: for comparison, and as a way back.
	NetHTTPServer bool
	// TakeOver makes Run take the listening sockets of the proxy serving on AdminSocket instead of
	// listening itself: a restart that drops no request and no stream.
	TakeOver bool
}

func (o Options) maxDrain() time.Duration {
	if o.MaxDrain > 0 {
		return o.MaxDrain
	}
	return time.Hour
}

// Timeouts towards upstreams. Dial is short because a replica on loopback that does not accept at
// once is gone; the response header timeout leaves room for slow but healthy services.
const (
	dialTimeout           = 2 * time.Second
	responseHeaderTimeout = 60 * time.Second
	idleConnTimeout       = 90 * time.Second
	probeInterval         = 500 * time.Millisecond
	shutdownGrace         = 5 * time.Second
)

// ErrStaleGeneration is returned when routes older than the ones in force are pushed.
var ErrStaleGeneration = errors.New("stale generation")

// errSave marks a failure to persist routes: the proxy's fault, not the caller's.
var errSave = errors.New("save routes")

// Proxy is the data plane and its admin API.
type Proxy struct {
	opts       Options
	preview    net.Listener // set by ServePreviewOn before Serve
	transports transports
	hist       *history
	pools      pools
	table      atomic.Pointer[table]
	held       atomic.Int64 // requests waiting for a version that can serve
	streams    streams      // open upgraded connections (WebSockets)

	mu   sync.Mutex // serialises route updates and guards wake
	wake chan struct{}

	bufs   sync.Pool // *[]byte copy buffers
	h1bufs sync.Pool // *h1bufs of the proxy's own HTTP/1.1 server

	certs *certReloader // nil without TLS

	ctx  context.Context // set by Serve; ends probes and held requests
	wg   sync.WaitGroup  // probes
	done chan struct{}

	// A hand-over (handover.go). served, handingOver, handedFrom and predecessor are guarded by
	// mu; conns counts the user connections open (not hijacked), for the drain.
	served      *served
	handingOver bool
	handedFrom  int64
	handoff     chan *handoff
	predecessor *Handed
	draining    atomic.Bool // answers carry Connection: close
	noSave      atomic.Bool // the state file belongs to the successor
	conns       atomic.Int64
}

// New builds a proxy and loads the routes saved in o.StateFile, if any.
func New(o Options) (*Proxy, error) {
	if o.History <= 0 {
		o.History = 15 * time.Minute
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = 30 * time.Second
	}
	p := &Proxy{
		opts:    o,
		hist:    newHistory(o.History),
		wake:    make(chan struct{}),
		done:    make(chan struct{}),
		handoff: make(chan *handoff, 1),
		ctx:     context.Background(),
	}
	p.bufs.New = func() any { b := make([]byte, 32<<10); return &b }
	p.h1bufs.New = newH1bufs
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("tls: a certificate needs its key and a key its certificate")
	}
	if o.TLSCert != "" {
		cr, err := newCertReloader(o.TLSCert, o.TLSKey)
		if err != nil {
			return nil, err
		}
		p.certs = cr
	}
	p.transports = newTransports()
	if o.StateFile != "" {
		if err := os.MkdirAll(filepath.Dir(o.StateFile), 0o700); err != nil {
			return nil, fmt.Errorf("state file dir: %w", err)
		}
		r, err := loadState(o.StateFile)
		if err != nil {
			return nil, err
		}
		if r != nil {
			if err := r.Validate(); err != nil {
				return nil, fmt.Errorf("state file %s: %w", o.StateFile, err)
			}
			p.table.Store(compile(*r, p.hist, &p.pools))
		}
	}
	return p, nil
}

// Routes returns the routes in force (zero Routes before the first update).
func (p *Proxy) Routes() Routes {
	if t := p.table.Load(); t != nil {
		return t.routes
	}
	return Routes{}
}

// SetRoutes validates r, saves it to the state file and swaps it in. Requests in flight finish on
// the endpoints they started on; held requests wake and try the new table.
func (p *Proxy) SetRoutes(r Routes) error {
	if err := r.Validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.table.Load()
	if old != nil && r.Generation < old.routes.Generation {
		return fmt.Errorf("%w: generation %d is older than %d in force", ErrStaleGeneration, r.Generation, old.routes.Generation)
	}
	if p.opts.StateFile != "" && !p.noSave.Load() {
		if err := saveState(p.opts.StateFile, r); err != nil {
			return err
		}
	}
	t := compile(r, p.hist, &p.pools)
	p.table.Store(t)
	p.forwardLocked(r)
	if old != nil {
		close(old.retired)
	}
	p.streams.reconcile(t)
	keep := map[string]bool{}
	for _, b := range r.Backends {
		for _, a := range b.Endpoints {
			keep[a] = true
		}
	}
	p.pools.retain(keep)
	p.broadcastLocked()
	return nil
}

// broadcastLocked wakes every held request. p.mu must be held.
func (p *Proxy) broadcastLocked() {
	close(p.wake)
	p.wake = make(chan struct{})
}

// waitChan returns the channel closed at the next route change or endpoint revival.
func (p *Proxy) waitChan() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wake
}

// markDown drops e from rotation and starts probing it, once.
func (p *Proxy) markDown(t *table, e *endpoint) {
	e.down.Store(true)
	if !e.probing.CompareAndSwap(false, true) {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer e.probing.Store(false)
		tick := time.NewTicker(probeInterval)
		defer tick.Stop()
		d := net.Dialer{Timeout: dialTimeout}
		for {
			select {
			case <-t.retired:
				return
			case <-p.done:
				return
			case <-tick.C:
			}
			c, err := d.DialContext(p.ctx, "tcp", e.addr)
			if err != nil {
				continue
			}
			c.Close()
			e.down.Store(false)
			p.mu.Lock()
			p.broadcastLocked()
			p.mu.Unlock()
			return
		}
	}()
}

// Serve serves user traffic on data, the admin API on adminSock and /metrics and /healthz on admin
// (which may be nil) until ctx is done, then stops accepting and lets requests in flight finish for
// a few seconds. It closes the listeners. Call it once.
func (p *Proxy) Serve(ctx context.Context, data, admin, adminSock net.Listener) error {
	if data == nil || adminSock == nil {
		return errors.New("serve: the data and admin socket listeners are required")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p.ctx = ctx
	// User traffic: HTTP/1.1 on the proxy's own server (h1server.go), which hands HTTP/2 (by ALPN
	// under TLS, with prior knowledge without) and anything unusual to net/http's.
	var servers []server
	servers = append(servers, server{srv: p.userServer("", p), l: data, user: true})
	servers = append(servers, server{srv: &http.Server{Handler: p.adminHandler(true), ReadHeaderTimeout: 10 * time.Second}, l: adminSock})
	if p.preview != nil {
		servers = append(servers, server{srv: p.userServer("preview", previewHandler{p}), l: p.preview, user: true})
	}
	sv := &served{data: data, admin: admin, preview: p.preview, adminSock: adminSock}
	p.mu.Lock()
	p.served = sv
	p.mu.Unlock()
	if admin != nil {
		servers = append(servers, server{srv: &http.Server{Handler: p.adminHandler(false), ReadHeaderTimeout: 10 * time.Second}, l: admin})
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.srv.Serve(s.l) }()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.collectLoop(ctx)
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("serve: %w", err)
	case ho := <-p.handoff:
		p.drain(ctx, ho, sv, servers)
	}
	close(p.done) // wakes held requests (they answer 503) and stops probes
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	for _, s := range servers {
		if serr := s.srv.Shutdown(sctx); serr != nil && err == nil && !errors.Is(serr, context.DeadlineExceeded) {
			err = fmt.Errorf("shut down: %w", serr)
		}
		s.srv.Close()
	}
	// Streams are hijacked connections, which Shutdown leaves alone: they end with a close frame.
	p.streams.endAll()
	p.streams.wg.Wait()
	cancel()
	p.wg.Wait()
	p.transports.closeIdle()
	p.pools.closeAll()
	return err
}

// server is one of the servers Serve runs, on its listener; user says it carries user traffic
// (drained on a hand-over, where the admin API's servers end at once).
type server struct {
	srv interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
		Close() error
	}
	l    net.Listener
	user bool
}

// userServer is the server for user traffic on one address: the proxy's own HTTP/1.1 server, or
// net/http's alone when Options.NetHTTPServer says so.
func (p *Proxy) userServer(route string, h http.Handler) interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
	Close() error
} {
	var tlsConf *tls.Config
	if p.certs != nil && route == "" {
		tlsConf = p.certs.serverTLS()
	}
	if !p.opts.NetHTTPServer {
		return newH1server(p, route, h, tlsConf)
	}
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetHTTP2(true)
	protos.SetUnencryptedHTTP2(true)
	s := &http.Server{Handler: h, ReadHeaderTimeout: p.opts.HeaderTimeout, IdleTimeout: userIdleTimeout, Protocols: &protos, ConnState: p.countConn, TLSConfig: tlsConf}
	if tlsConf != nil {
		return tlsServer{s}
	}
	return s
}

// tlsServer is a net/http server that serves TLS on the listeners it is given.
type tlsServer struct{ *http.Server }

func (s tlsServer) Serve(l net.Listener) error { return s.ServeTLS(l, "", "") }

// collectLoop closes each wall-clock second into the history, just after it ends.
func (p *Proxy) collectLoop(ctx context.Context) {
	for {
		now := time.Now()
		next := now.Truncate(time.Second).Add(time.Second)
		t := time.NewTimer(next.Sub(now) + 5*time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		p.hist.collect(next.Unix() - 1)
	}
}

// Run listens on o's addresses and serves until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Listen == "" {
		return errors.New("no listen address")
	}
	if o.AdminSocket == "" {
		return errors.New("no admin socket")
	}
	p, err := New(o)
	if err != nil {
		return err
	}
	if o.TakeOver {
		return p.runTakingOver(ctx)
	}
	var lc net.ListenConfig
	data, err := lc.Listen(ctx, "tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	sock, err := listenUnix(ctx, o.AdminSocket)
	if err != nil {
		data.Close()
		return err
	}
	var admin net.Listener
	if o.Admin != "" {
		if admin, err = lc.Listen(ctx, "tcp", o.Admin); err != nil {
			data.Close()
			sock.Close()
			return fmt.Errorf("listen admin: %w", err)
		}
	}
	if o.Preview != "" {
		pl, err := lc.Listen(ctx, "tcp", o.Preview)
		if err != nil {
			data.Close()
			sock.Close()
			if admin != nil {
				admin.Close()
			}
			return fmt.Errorf("listen preview: %w", err)
		}
		p.ServePreviewOn(pl)
	}
	return p.Serve(ctx, data, admin, sock)
}

// ServePreviewOn makes Serve also serve l as the preview address: every request there goes to the
// preview version (a blue-green's green before the switch), whoever asks. Call it before Serve.
func (p *Proxy) ServePreviewOn(l net.Listener) { p.preview = l }

// previewHandler routes everything to the preview version.
type previewHandler struct{ p *Proxy }

func (h previewHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.p.serve(w, r, "preview")
}

// listenUnix listens on a unix socket only the owner can use. A socket file left by a dead proxy is
// replaced; one that a live proxy answers on is an error.
func listenUnix(ctx context.Context, path string) (net.Listener, error) {
	if _, err := os.Stat(path); err == nil {
		d := net.Dialer{Timeout: time.Second}
		if c, err := d.DialContext(ctx, "unix", path); err == nil {
			c.Close()
			return nil, fmt.Errorf("admin socket %s: another proxy is listening", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale admin socket: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("admin socket dir: %w", err)
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin socket mode: %w", err)
	}
	return l, nil
}

// loadState reads the saved routes; nil when there are none yet.
func loadState(path string) (*Routes, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	var r Routes
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return &r, nil
}

// saveState writes r next to path and renames it into place, so a crash leaves the old or the new
// routes, never half of them.
func saveState(path string, r Routes) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: encode: %w", errSave, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("%w: %w", errSave, err)
	}
	tmp := f.Name()
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: %w", errSave, err)
	}
	return nil
}
