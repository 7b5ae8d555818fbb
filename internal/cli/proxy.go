package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/proxy"
)

// RouteSecretEnv is the environment variable that gives `hugai proxy` the X-Hugai-Route secret.
const RouteSecretEnv = "HUGAI_ROUTE_SECRET"

// proxyCmd runs the data plane of the local target. It is its own process so that user traffic
// keeps flowing on the last routes while the server is stopped, upgraded or crashed.
func (a *app) proxyCmd() *cobra.Command {
	var o proxy.Options
	var allowFrom []string
	c := &cobra.Command{
		Use:   "proxy",
		Short: "Run hugai's traffic proxy (started by the server)",
		Long: "Run hugai's weighted L7 reverse proxy. The hugai server starts it and pushes routes to its admin\n" +
			"socket; it keeps serving the last routes (also saved to --state-file) while the server is away.",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if o.Listen == "" {
				return badInput(errors.New("--listen is required"))
			}
			if o.AdminSocket == "" {
				return badInput(errors.New("--admin-socket is required"))
			}
			if (o.TLSCert == "") != (o.TLSKey == "") {
				return badInput(errors.New("--tls-cert and --tls-key go together"))
			}
			if o.History < time.Minute {
				return badInput(errors.New("--history must be at least 1m"))
			}
			for _, a := range allowFrom {
				pf, err := plan.ParseAddressRange(a)
				if err != nil {
					return badInput(fmt.Errorf("--route-allow-from: %w", err))
				}
				o.HeaderRouting.AllowFrom = append(o.HeaderRouting.AllowFrom, pf)
			}
			// The secret comes from the environment, never argv: argv is world-readable in /proc.
			o.HeaderRouting.Secret = os.Getenv(RouteSecretEnv)
			return proxy.Run(c.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "address for user traffic")
	f.StringVar(&o.Admin, "admin", "", "TCP address for /metrics and /healthz (none if empty)")
	f.StringVar(&o.Preview, "preview", "", "TCP address that serves the preview version only (none if empty)")
	f.StringVar(&o.AdminSocket, "admin-socket", "", "unix socket for the admin API (mode 0600)")
	f.StringVar(&o.StateFile, "state-file", "", "file keeping the last routes, reloaded on start")
	f.DurationVar(&o.History, "history", 15*time.Minute, "per-second counter history kept")
	f.StringVar(&o.TLSCert, "tls-cert", "", "PEM certificate for TLS on --listen (HTTP/2 by ALPN); read again when the file changes")
	f.StringVar(&o.TLSKey, "tls-key", "", "PEM key of --tls-cert")
	f.BoolVar(&o.NetHTTPServer, "net-http-server", false, "serve user traffic with Go's net/http server alone instead of the proxy's own HTTP/1.1 server in front of it (for comparison, or as a way back)")
	f.BoolVar(&o.TakeOver, "take-over", false, "take the listening sockets of the proxy serving on --admin-socket (a restart or an upgrade that drops no request and no open stream); the old one drains and exits")
	f.DurationVar(&o.MaxDrain, "max-drain", time.Hour, "after a take-over, how long the old proxy waits for its connections and streams before closing them")
	f.StringSliceVar(&allowFrom, "route-allow-from", nil, "client addresses (IP or CIDR) whose X-Hugai-Route header is honoured; with $"+RouteSecretEnv+" set, any client sending it in X-Hugai-Route-Secret is too; nobody's otherwise")
	return c
}
