package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Client talks to a proxy's admin API over its unix socket. The local target and the builtin
// metric source use it.
type Client struct {
	socket string
	hc     *http.Client
}

// NewClient returns a client for the proxy listening on socketPath.
func NewClient(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     30 * time.Second,
	}
	return &Client{socket: socketPath, hc: &http.Client{Transport: tr}}
}

// StatusError is an admin API answer other than success, e.g. 409 for a stale generation or 400
// for routes that do not validate.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("proxy answered %d: %s", e.Code, e.Message)
}

// SetRoutes pushes r; a *StatusError with Code 409 means newer routes are already in force.
func (c *Client) SetRoutes(ctx context.Context, r Routes) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode routes: %w", err)
	}
	return c.do(ctx, http.MethodPut, "/v1/routes", b, nil)
}

// Routes returns the routes in force.
func (c *Client) Routes(ctx context.Context) (Routes, error) {
	var r Routes
	err := c.do(ctx, http.MethodGet, "/v1/routes", nil, &r)
	return r, err
}

// Stats returns the per-second history from since on.
func (c *Client) Stats(ctx context.Context, since time.Time) (Stats, error) {
	var s Stats
	err := c.do(ctx, http.MethodGet, "/v1/stats?since="+strconv.FormatInt(since.Unix(), 10), nil, &s)
	return s, err
}

// Healthy returns nil when the proxy answers on its socket.
func (c *Client) Healthy(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/healthz", nil, nil)
}

// CloseIdleConnections closes the client's idle connections to the proxy.
// Info says which proxy process answers on the admin socket.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var i Info
	err := c.do(ctx, http.MethodGet, "/v1/info", nil, &i)
	return i, err
}

// Info is GET /v1/info: the proxy process answering, and the configuration its starter gave it
// in $HUGAI_PROXY_CONFIG (an opaque identity the starter compares to decide whether to adopt it).
type Info struct {
	PID    int    `json:"pid"`
	Config string `json:"config,omitempty"`
}

// ConfigEnv is where a proxy's starter puts the identity of its configuration (Info.Config).
const ConfigEnv = "HUGAI_PROXY_CONFIG"

func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

func (c *Client) do(ctx context.Context, method, path string, body []byte, into any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://proxy"+path, rd)
	if err != nil {
		return fmt.Errorf("proxy %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("proxy at %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var ae apiError
		msg := string(bytes.TrimSpace(b))
		if json.Unmarshal(b, &ae) == nil && ae.Error != "" {
			msg = ae.Error
		}
		return &StatusError{Code: resp.StatusCode, Message: msg}
	}
	if into == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		return fmt.Errorf("proxy %s %s: decode: %w", method, path, err)
	}
	return nil
}
