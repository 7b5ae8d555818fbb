package metric

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxAnswer bounds what is read of a provider's answer: one value needs little, a runaway query much.
const maxAnswer = 8 << 20

// Fetch sends req for an HTTP provider (prometheus, web): headers are set with ${VAR} read through
// getenv at each request, never stored; a deadline hit is said as "no answer within timeout"; at
// most 8 MiB of the answer is read. The caller judges the status.
func Fetch(ctx context.Context, c *http.Client, req *http.Request, headers map[string]string, getenv func(string) string, timeout time.Duration) (status int, body []byte, err error) {
	req.Header.Set("Accept", "application/json")
	for k, v := range headers {
		req.Header.Set(k, os.Expand(v, getenv))
	}
	resp, err := c.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return 0, nil, fmt.Errorf("no answer within %s", timeout)
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read the answer: %w", err)
	}
	return resp.StatusCode, body, nil
}

// Snippet is the start of an answer, quoted, for an error message.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strconv.Quote(s)
}
