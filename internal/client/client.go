// Package client talks to a hugai server's API on its unix socket: what the CLI's acting commands
// use, and what a follower retries across server restarts.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// ErrUnreachable is a server that does not answer: no socket, nobody listening, or the connection
// lost mid-request. A follower retries it; every other error is an answer.
var ErrUnreachable = errors.New("hugai server unreachable")

// Client calls one server's API.
type Client struct {
	socket string // the socket's path, or the server's URL over TCP
	http   *http.Client
	// base is where requests go ("http://hugai" on the socket, whose transport ignores it);
	// token, when set, is sent as a bearer token.
	base  string
	token string
}

// New returns a client of the server listening on socketPath.
func New(socketPath string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:    4,
		IdleConnTimeout: 30 * time.Second,
	}
	return &Client{socket: socketPath, http: &http.Client{Transport: tr}, base: "http://hugai"}
}

// Socket is the path of the server's socket (its URL over TCP).
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Info asks the server who it is.
func (c *Client) Info(ctx context.Context) (api.ServerInfo, error) {
	var info api.ServerInfo
	err := c.call(ctx, http.MethodGet, "/api/v1/info", nil, nil, &info)
	return info, err
}

// Monitor measures the current release of service in env.
func (c *Client) Monitor(ctx context.Context, service, env string) (api.Monitor, error) {
	var m api.Monitor
	err := c.call(ctx, http.MethodGet, "/api/v1/monitor", url.Values{"service": {service}, "environment": {env}}, nil, &m)
	return m, err
}

// Start starts a rollout.
func (c *Client) Start(ctx context.Context, req api.StartRequest) (api.Rollout, error) {
	var r api.Rollout
	err := c.call(ctx, http.MethodPost, "/api/v1/rollouts", nil, req, &r)
	return r, err
}

// Get reads a rollout.
func (c *Client) Get(ctx context.Context, id string) (api.Rollout, error) {
	var r api.Rollout
	err := c.call(ctx, http.MethodGet, "/api/v1/rollouts/"+url.PathEscape(id), nil, nil, &r)
	return r, err
}

// List lists rollouts, newest first as the server orders them.
func (c *Client) List(ctx context.Context, f api.ListFilter) ([]api.Rollout, error) {
	q := url.Values{}
	if f.Service != "" {
		q.Set("service", f.Service)
	}
	if f.Environment != "" {
		q.Set("environment", f.Environment)
	}
	if f.Active {
		q.Set("active", "true")
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	rs := []api.Rollout{}
	err := c.call(ctx, http.MethodGet, "/api/v1/rollouts", q, nil, &rs)
	return rs, err
}

// Do sends a person's command to a rollout.
func (c *Client) Do(ctx context.Context, id string, cmd api.Command) (api.Rollout, error) {
	var r api.Rollout
	err := c.call(ctx, http.MethodPost, "/api/v1/rollouts/"+url.PathEscape(id)+"/commands", nil, cmd, &r)
	return r, err
}

// Wait long-polls a rollout: it answers once its revision passes afterRev, or with the rollout as
// it is when timeout runs out.
func (c *Client) Wait(ctx context.Context, id string, afterRev int64, timeout time.Duration) (api.Rollout, error) {
	q := url.Values{"wait": {strconv.FormatInt(afterRev, 10)}, "timeout": {timeout.String()}}
	var r api.Rollout
	err := c.call(ctx, http.MethodGet, "/api/v1/rollouts/"+url.PathEscape(id), q, nil, &r)
	return r, err
}

// Shutdown asks the server to stop; all stops its proxies and services too. It returns once the
// server has accepted, not once it has stopped.
func (c *Client) Shutdown(ctx context.Context, all bool) error {
	return c.call(ctx, http.MethodPost, "/api/v1/shutdown", nil, map[string]bool{"all": all}, nil)
}

func (c *Client) call(ctx context.Context, method, path string, q url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return c.transportError(ctx, err)
	}
	if resp.StatusCode >= 300 {
		ae := &api.Error{}
		if err := json.Unmarshal(data, ae); err != nil || ae.Message == "" {
			return &api.Error{Code: api.CodeInternal, Message: fmt.Sprintf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))}
		}
		if ae.Code == "" {
			ae.Code = api.CodeInternal
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	return nil
}

// transportError tells a cancelled caller from a server that is not there: the first is the
// caller's business, the second is worth retrying.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w on %s: %v", ErrUnreachable, c.socket, unwrapURL(err))
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ExecuteRelease starts running a recorded release through its stages.
func (c *Client) ExecuteRelease(ctx context.Context, tag string) (api.ReleaseRun, error) {
	var r api.ReleaseRun
	err := c.call(ctx, http.MethodPost, "/api/v1/release-runs", nil, api.ReleaseExecuteRequest{Tag: tag}, &r)
	return r, err
}

// ReleaseRun reads a release run.
func (c *Client) ReleaseRun(ctx context.Context, id string) (api.ReleaseRun, error) {
	var r api.ReleaseRun
	err := c.call(ctx, http.MethodGet, "/api/v1/release-runs/"+url.PathEscape(id), nil, nil, &r)
	return r, err
}

// ReleaseRuns lists release runs newest first, of one release when tag is set.
func (c *Client) ReleaseRuns(ctx context.Context, tag string, limit int) ([]api.ReleaseRun, error) {
	q := url.Values{}
	if tag != "" {
		q.Set("tag", tag)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	rs := []api.ReleaseRun{}
	err := c.call(ctx, http.MethodGet, "/api/v1/release-runs", q, nil, &rs)
	return rs, err
}

// WaitReleaseRun long-polls a release run: it answers once its revision passes afterRev, or with
// the run as it is when timeout runs out.
func (c *Client) WaitReleaseRun(ctx context.Context, id string, afterRev int64, timeout time.Duration) (api.ReleaseRun, error) {
	q := url.Values{"wait": {strconv.FormatInt(afterRev, 10)}, "timeout": {timeout.String()}}
	var r api.ReleaseRun
	err := c.call(ctx, http.MethodGet, "/api/v1/release-runs/"+url.PathEscape(id), q, nil, &r)
	return r, err
}
