package metric

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
)

func TestProvidersGet(t *testing.T) {
	b := Func(func(context.Context, Query) (analysis.Value, error) { return analysis.Value{}, nil })
	ps := Providers{Builtin: b, "prometheus": b, "web": nil}
	for _, name := range []string{"", "builtin", "prometheus"} {
		if p, err := ps.Get(name); err != nil || p == nil {
			t.Errorf("Get(%q) = %v, %v", name, p, err)
		}
	}
	tests := []struct {
		ps   Providers
		name string
		want string
	}{
		{ps, "promethues", `unknown metric provider "promethues" (known: builtin, prometheus)`},
		{ps, "web", `unknown metric provider "web" (known: builtin, prometheus)`},
		{nil, "", `unknown metric provider "builtin" (none is configured)`},
	}
	for _, tt := range tests {
		if _, err := tt.ps.Get(tt.name); err == nil || err.Error() != tt.want {
			t.Errorf("Get(%q) error %v, want %s", tt.name, err, tt.want)
		}
	}
}

func TestReaderFeedsJudge(t *testing.T) {
	from := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	to := from.Add(time.Minute)
	var got []Query
	p := Func(func(_ context.Context, q Query) (analysis.Value, error) {
		got = append(got, q)
		switch q.Metric {
		case "error_rate":
			return analysis.Value{Value: 0.2, Samples: 300}, nil
		case "latency_p95":
			return analysis.Value{Value: math.NaN(), Err: "proxy down"}, nil
		}
		return analysis.Value{}, errors.New("builtin has no metric " + q.Metric)
	})
	conds, err := criteria.Parse("error_rate<1%,latency_p95<2s,orders>1", criteria.WithMetrics("orders"))
	if err != nil {
		t.Fatal(err)
	}
	ms := analysis.Judge(conds, Reader(context.Background(), p, Query{Service: "checkout", Version: "v2", From: from, To: to}), 20, from, to)
	want := []struct {
		phase analysis.Phase
		msg   string
	}{
		{analysis.Successful, "error_rate 0.2% < 1% over 300 requests"},
		{analysis.Error, "latency_p95: query failed: proxy down"},
		{analysis.Error, "orders: query failed: builtin has no metric orders"},
	}
	for i, w := range want {
		if ms[i].Phase != w.phase || ms[i].Message != w.msg {
			t.Errorf("measurement %d: %s %q, want %s %q", i, ms[i].Phase, ms[i].Message, w.phase, w.msg)
		}
	}
	for i, q := range got {
		if q.Service != "checkout" || q.Version != "v2" || q.Metric != conds[i].Metric || !q.From.Equal(from) || !q.To.Equal(to) {
			t.Errorf("query %d = %+v", i, q)
		}
	}
}
