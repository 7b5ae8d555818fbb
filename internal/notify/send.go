package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// expand replaces each ${VAR} in s with getenv(VAR) (os.Getenv when nil). A variable that is unset
// or empty is an error naming it: sending to an empty URL or key would fail less clearly later.
// Only the braced form is read, so a literal $ in a URL or password stays as written.
func expand(s string, getenv func(string) string) (string, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			break
		}
		name := s[i+2 : i+2+j]
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+2+j+1:]
	}
	b.WriteString(s)
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return b.String(), nil
}

// userAgent is hugai/<module version>, "hugai/dev" for builds without one.
var userAgent = func() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "hugai/" + v
}()

// Retries of a failed HTTP send: attempts after the first, and the wait before the first retry
// (doubled each time). Variables so a test could shorten them; the defaults are already short.
var (
	httpRetries  = 2
	retryBackoff = 100 * time.Millisecond
)

// statusError is a non-2xx answer; 5xx and 429 answers are retried, others are final.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	if e.body == "" {
		return fmt.Sprintf("HTTP %d", e.code)
	}
	return fmt.Sprintf("HTTP %d: %s", e.code, e.body)
}

// post sends body to url, retrying on connection errors, 429 and 5xx answers with a short exponential
// backoff, never on 4xx (the request itself is wrong: sending it again cannot help). The error
// never contains the URL, which for Slack is the secret.
func post(ctx context.Context, client *http.Client, url string, body []byte, header http.Header) error {
	if client == nil {
		client = http.DefaultClient
	}
	wait := retryBackoff
	for attempt := 0; ; attempt++ {
		err := postOnce(ctx, client, url, body, header)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
			return err
		}
		var se *statusError
		// 429 is retried: Slack and PagerDuty both answer it to a burst and document a retry.
		if errors.As(err, &se) && se.code < 500 && se.code != http.StatusTooManyRequests {
			return err
		}
		if attempt == httpRetries {
			return fmt.Errorf("after %d attempts: %w", attempt+1, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (then %w)", err, ctx.Err())
		case <-t.C:
		}
		wait *= 2
	}
}

func postOnce(ctx context.Context, client *http.Client, url string, body []byte, header http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return errors.New("invalid URL") // the parse error would print the URL
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL, keep the cause
		}
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return nil
	}
	return &statusError{code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
}

// marshal is json.Marshal without HTML escaping: the bodies go to APIs, not into web pages, and
// Slack's own &lt; escapes would otherwise arrive as \u0026lt;.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
