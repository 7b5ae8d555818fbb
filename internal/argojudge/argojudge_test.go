package argojudge

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/metric"
	"github.com/hugai-dev/hugai/internal/plan"
)

var t0 = time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)

// steps are n steps of 30 s from t0: the canary's requests and errors, the stable's, per step.
func steps(n int, cr, ce, sr, se int64) []metric.Step {
	out := make([]metric.Step, n)
	for i := range out {
		out[i] = metric.Step{End: t0.Add(time.Duration(i+1) * 30 * time.Second), Window: analysis.Window{
			Canary: analysis.Counts{Requests: cr, Events: ce}, Baseline: analysis.Counts{Requests: sr, Events: se}}}
	}
	return out
}

func prodEnv(t *testing.T) *plan.Env {
	t.Helper()
	svc, err := Files("testdata/hugai.yaml")(context.Background(), "production", "my-app")
	if err != nil {
		t.Fatal(err)
	}
	env, err := svc.Env("production")
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// TestJudge: evidence from every step since the canary's first request, one test: a healthy
// canary passes once both versions served minimumSamples, a regressed one fails however few
// requests it took, thin traffic is Inconclusive, and steps before the canary served do not count.
func TestJudge(t *testing.T) {
	t.Parallel()
	env := prodEnv(t) // alpha 0.01, minimumSamples 100
	before := steps(4, 0, 0, 200, 1)
	for i := range before {
		before[i].End = before[i].End.Add(-time.Hour)
	}
	for name, tc := range map[string]struct {
		steps   []metric.Step
		verdict string
		canary  Count
		stable  Count
	}{
		"healthy":         {steps(10, 15, 0, 285, 1), Pass, Count{150, 0}, Count{2850, 10}},
		"regressed":       {steps(3, 15, 3, 285, 1), Fail, Count{45, 9}, Count{855, 3}},
		"thin":            {steps(3, 5, 0, 95, 0), Inconclusive, Count{15, 0}, Count{285, 0}},
		"no canary":       {before, Inconclusive, Count{}, Count{}},
		"before and then": {append(append([]metric.Step{}, before...), steps(10, 15, 0, 285, 1)...), Pass, Count{150, 0}, Count{2850, 10}},
	} {
		verdict, ev, reasons := Judge(tc.steps, env)
		if verdict != tc.verdict || ev.Samples.Canary != tc.canary || ev.Samples.Stable != tc.stable || len(reasons) == 0 {
			t.Errorf("%s: %s, samples %+v, reasons %q; want %s with canary %+v, stable %+v", name, verdict, ev.Samples, reasons, tc.verdict, tc.canary, tc.stable)
		}
		if verdict == Fail && !(ev.Statistic >= ev.Boundary && ev.Effect.Value > 0.15 && ev.Effect.Low > 0) {
			t.Errorf("%s: evidence %+v: want the statistic past its boundary and an effect above 0", name, ev)
		}
		if verdict == Pass && (ev.Statistic >= ev.Boundary || ev.Since == nil || !ev.Since.Equal(t0.Add(30*time.Second)) || ev.Steps != 10) {
			t.Errorf("%s: evidence %+v", name, ev)
		}
	}
}

// judgeServer serves the handler over real HTTP with src as the counts.
func judgeServer(t *testing.T, token string, src func(context.Context, metric.Comparison) ([]metric.Step, error)) *httptest.Server {
	t.Helper()
	h, err := New(Config{
		Find:   Files("testdata/hugai.yaml"),
		Source: func(*plan.Env) (Source, error) { return sourceFunc(src), nil },
		Now:    func() time.Time { return t0.Add(time.Hour) },
		Token:  func() string { return token },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type sourceFunc func(context.Context, metric.Comparison) ([]metric.Step, error)

func (f sourceFunc) Steps(ctx context.Context, c metric.Comparison) ([]metric.Step, error) {
	return f(ctx, c)
}

func get(t *testing.T, method, u, auth, body string) (int, Answer) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a Answer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s %s: HTTP %d, not JSON: %s", method, u, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return resp.StatusCode, a
}

// TestHandler: the endpoint's answers for each kind of request, over real HTTP.
func TestHandler(t *testing.T) {
	t.Parallel()
	var asked metric.Comparison
	srv := judgeServer(t, "s3cret", func(_ context.Context, c metric.Comparison) ([]metric.Step, error) {
		asked = c
		if c.Candidate == "down" {
			return nil, errors.New("prometheus query: connection refused")
		}
		return steps(10, 15, 0, 285, 1), nil
	})
	q := url.Values{"service": {"my-app"}, "namespace": {"production"}, "canary": {"7c9f8d"}, "stable": {"5b6d4f"}}
	u := srv.URL + "/analysis?" + q.Encode()

	status, a := get(t, http.MethodGet, u, "Bearer s3cret", "")
	if status != 200 || a.Verdict != Pass || a.Environment != "production" || a.Evidence == nil || a.Evidence.Samples.Canary.Requests != 150 {
		t.Errorf("GET: HTTP %d %+v", status, a)
	}
	if asked.Candidate != "7c9f8d" || asked.Baseline != "5b6d4f" || asked.Service != "my-app" || !asked.To.Equal(t0.Add(time.Hour)) || !asked.From.Equal(t0.Add(time.Hour-DefaultLookback)) {
		t.Errorf("asked the source %+v", asked)
	}
	// POST with the arguments in a JSON body, the URL filling in nothing.
	status, a = get(t, http.MethodPost, srv.URL+"/analysis", "Bearer s3cret", `{"service":"my-app","namespace":"production","canary":"7c9f8d","stable":"5b6d4f"}`)
	if status != 200 || a.Verdict != Pass {
		t.Errorf("POST: HTTP %d %+v", status, a)
	}
	for name, tc := range map[string]struct {
		method, url, auth string
		status            int
		reason            string
	}{
		"no token":        {"GET", u, "", 401, "bearer token"},
		"wrong token":     {"GET", u, "Bearer s3cre", 401, "bearer token"},
		"no canary":       {"GET", strings.Replace(u, "canary=7c9f8d", "", 1), "Bearer s3cret", 400, "canary: missing"},
		"injection":       {"GET", strings.Replace(u, "canary=7c9f8d", "canary="+url.QueryEscape(`a"}or vector(1)`), 1), "Bearer s3cret", 400, "canary: "},
		"same versions":   {"GET", strings.Replace(u, "canary=7c9f8d", "canary=5b6d4f", 1), "Bearer s3cret", 400, "nothing to compare"},
		"unknown service": {"GET", strings.Replace(u, "my-app", "other", 1), "Bearer s3cret", 404, "no such service"},
		"other namespace": {"GET", strings.Replace(u, "namespace=production", "namespace=staging", 1), "Bearer s3cret", 404, "no such service"},
		"unknown env":     {"GET", u + "&environment=staging", "Bearer s3cret", 400, `environment "staging" is not in my-app`},
		"prometheus down": {"GET", strings.Replace(u, "canary=7c9f8d", "canary=down", 1), "Bearer s3cret", 502, "connection refused"},
		"twice":           {"GET", u + "&canary=x", "Bearer s3cret", 400, "canary given 2 times"},
		"PUT":             {"PUT", u, "Bearer s3cret", 405, "want GET or POST"},
	} {
		status, a := get(t, tc.method, tc.url, tc.auth, "")
		if status != tc.status || a.Verdict != "Error" || len(a.Reasons) != 1 || !strings.Contains(a.Reasons[0], tc.reason) {
			t.Errorf("%s: HTTP %d %+v, want %d with %q", name, status, a, tc.status, tc.reason)
		}
	}
	// A request naming no versions is judged on those Versions finds (the operator reads the
	// Rollout's status); without Versions it is refused.
	h, err := New(Config{Find: Files("testdata/hugai.yaml"), Now: func() time.Time { return t0.Add(time.Hour) },
		Source: func(*plan.Env) (Source, error) {
			return sourceFunc(func(_ context.Context, c metric.Comparison) ([]metric.Step, error) {
				asked = c
				return steps(10, 15, 0, 285, 1), nil
			}), nil
		},
		Versions: func(_ context.Context, ns, svc string) (string, string, error) { return "c" + ns, "s" + svc, nil }})
	if err != nil {
		t.Fatal(err)
	}
	withVersions := httptest.NewServer(h)
	defer withVersions.Close()
	if status, a := get(t, http.MethodGet, withVersions.URL+"/?service=my-app&namespace=production&canary=&stable=", "", ""); status != 200 || a.Verdict != Pass || a.Canary != "cproduction" || asked.Baseline != "smy-app" {
		t.Errorf("versions found: HTTP %d %+v", status, a)
	}
	if status, a := get(t, http.MethodGet, srv.URL+"/?service=my-app&canary=&stable=", "Bearer s3cret", ""); status != 400 || !strings.Contains(a.Reasons[0], "canary: missing") {
		t.Errorf("no versions and no Versions: HTTP %d %+v", status, a)
	}
	// Without a token configured anyone may ask.
	open := judgeServer(t, "", func(context.Context, metric.Comparison) ([]metric.Step, error) { return steps(3, 15, 3, 285, 1), nil })
	if status, a := get(t, http.MethodGet, open.URL+"/?"+q.Encode(), "", ""); status != 200 || a.Verdict != Fail {
		t.Errorf("no token configured: HTTP %d %+v", status, a)
	}
}

// TestNoCompare: an environment without analysis.compare is a configuration error (422), never a
// verdict.
func TestNoCompare(t *testing.T) {
	t.Parallel()
	b, err := readFile("testdata/hugai.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(b, "        method: sequential\n", "        method: threshold\n", 1)
	s = strings.Replace(s, "        compare: {requests: http_requests, errors: http_errors, step: 30s}\n", "", 1)
	path := t.TempDir() + "/hugai.yaml"
	if err := writeFile(path, s); err != nil {
		t.Fatal(err)
	}
	h, err := New(Config{Find: Files(path)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	status, a := get(t, http.MethodGet, srv.URL+"/?service=my-app&canary=a&stable=b", "", "")
	if status != http.StatusUnprocessableEntity || !strings.Contains(a.Reasons[0], "sets no analysis.compare") {
		t.Errorf("HTTP %d %+v", status, a)
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without Find")
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add("GET", "service=my-app&namespace=production&canary=7c9f8d&stable=5b6d4f", "")
	f.Add("POST", "", `{"service":"my-app","canary":"a","stable":"b"}`)
	f.Add("POST", "service=x&canary=a", `{"stable":"b","environment":"prod"}`)
	f.Add("GET", "service=%zz", "")
	f.Fuzz(func(t *testing.T, method, query, body string) {
		r, err := http.NewRequest(method, "http://judge/analysis", strings.NewReader(body))
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		q, err := ParseRequest(r)
		if err != nil {
			return
		}
		// What is accepted cannot break out of a PromQL string or label matcher.
		for _, v := range []string{q.Service, q.Namespace, q.Environment, q.Canary, q.Stable} {
			if strings.ContainsAny(v, "\"'`{}\\\n ,=~!()[]") {
				t.Fatalf("accepted %q in %+v", v, q)
			}
		}
		if q.Service == "" || (q.Canary == q.Stable && q.Canary != "") {
			t.Fatalf("accepted %+v", q)
		}
	})
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}

func writeFile(p, s string) error { return os.WriteFile(p, []byte(s), 0o600) }
