package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/engine"
	"github.com/hugai-dev/hugai/internal/server"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

// serverNet is how the server is reached beyond its owner: a shared socket, TCP with TLS, and how
// unix peers are known to the policies.
type serverNet struct {
	listen, insecureListen string
	tlsCert, tlsKey        string
	socketGroup, users     string
}

func (n *serverNet) addFlags(c *cobra.Command) {
	fl := c.Flags()
	fl.StringVar(&n.listen, "listen", "", "also serve the API over TCP with TLS on `ADDR` (host:port); a bearer token is required there")
	fl.StringVar(&n.insecureListen, "insecure-listen", "", "also serve the API over plain HTTP on `ADDR`, a loopback address only (behind a TLS proxy)")
	fl.StringVar(&n.tlsCert, "tls-cert", "", "the certificate (PEM) for --listen (default: a self-signed one made in the data dir, its fingerprint printed)")
	fl.StringVar(&n.tlsKey, "tls-key", "", "the key (PEM) of --tls-cert")
	fl.StringVar(&n.socketGroup, "socket-group", "", "let members of this OS `GROUP` use the socket (0660); each is then their own OS user to the policies")
	fl.StringVar(&n.users, "users", "", "YAML `FILE` mapping OS users to identities: {alice: {email: alice@company.com, groups: [team@company.com]}}")
}

// guard is the authentication and authorization layer in front of the API. The server's own OS
// user may stop it and manage tokens on the socket whatever the policies say.
func (n *serverNet) guard(h http.Handler, eng *engine.Engine, st *sqlite.Store, logf func(string, ...any)) (http.Handler, error) {
	owner := uint32(os.Getuid())
	cfg := server.GuardConfig{Engine: eng, Policies: eng.Policies, Tokens: st, Logf: logf, Owner: &owner,
		Audit: func(ctx context.Context, e audit.Event) error {
			_, err := st.Commit(ctx, store.Tx{Events: []audit.Event{e}})
			return err
		}}
	if n.users != "" {
		data, err := os.ReadFile(n.users)
		if err != nil {
			return nil, badInput(fmt.Errorf("--users: %w", err))
		}
		m, err := server.ParseUsers(data)
		if err != nil {
			return nil, badInput(fmt.Errorf("--users %s: %w", n.users, err))
		}
		cfg.Users = server.MapUsers(m)
	}
	if _, err := eng.Policies(); err != nil {
		return nil, badInput(err)
	}
	return server.Guard(h, cfg), nil
}

// serveTCP starts the TCP listeners asked for; their servers are returned for the shutdown.
func (n *serverNet) serveTCP(h http.Handler, dataDir string, logf func(string, ...any), fail func()) ([]*http.Server, error) {
	var out []*http.Server
	for _, l := range []struct {
		addr     string
		insecure bool
	}{{n.listen, false}, {n.insecureListen, true}} {
		if l.addr == "" {
			continue
		}
		ln, fingerprint, err := server.ListenTCP(server.TCPOptions{Addr: l.addr, CertFile: n.tlsCert, KeyFile: n.tlsKey, DataDir: dataDir, Insecure: l.insecure})
		if err != nil {
			for _, s := range out {
				_ = s.Close()
			}
			return nil, badInput(err)
		}
		srv := server.HTTPServer(h)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logf("serve %s: %v", l.addr, err)
				fail()
			}
		}()
		if l.insecure {
			logf("serving the API over plain HTTP on http://%s (loopback only; tokens required)", ln.Addr())
		} else {
			logf("serving the API on https://%s; certificate SHA-256 fingerprint %s (HUGAI_SERVER_FINGERPRINT)", ln.Addr(), fingerprint)
		}
		out = append(out, srv)
	}
	return out, nil
}
