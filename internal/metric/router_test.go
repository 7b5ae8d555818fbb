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

// source answers each metric from a table and records the queries it got.
type source struct {
	name   string
	values map[string]analysis.Value
	got    []Query
}

func (s *source) Query(_ context.Context, q Query) (analysis.Value, error) {
	s.got = append(s.got, q)
	v, ok := s.values[q.Metric]
	if !ok {
		return analysis.Value{}, errors.New(s.name + " has no metric " + q.Metric)
	}
	return v, nil
}

func TestRouter(t *testing.T) {
	builtin := &source{name: "builtin", values: map[string]analysis.Value{
		"error_rate":   {Value: 0.5, Samples: 120},
		"request_rate": {Value: 2, Samples: 120},
	}}
	prom := &source{name: "prometheus", values: map[string]analysis.Value{
		"conversion": {Value: 97},
		"nodata":     {Value: math.NaN()},
		"down":       {Value: math.NaN(), Err: "connection refused"},
	}}
	r, err := NewRouter("production", Providers{Builtin: builtin, "prometheus": prom},
		map[string]string{"conversion": "prometheus", "nodata": "prometheus", "down": "prometheus"})
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	q := Query{Service: "checkout", Version: "v2", From: from, To: from.Add(time.Minute)}
	conds, err := criteria.Parse("error_rate<1%,conversion>95,nodata>1,down>1", criteria.WithMetrics("conversion", "nodata", "down"))
	if err != nil {
		t.Fatal(err)
	}
	ms := analysis.Judge(conds, Reader(context.Background(), r, q), 100, from, q.To)
	want := []struct {
		phase analysis.Phase
		msg   string
	}{
		{analysis.Successful, "error_rate 0.5% < 1% over 120 requests"},
		// An outside value is judged on the version's traffic in the window, counted by builtin.
		{analysis.Successful, "conversion 97 > 95 over 120 requests"},
		{analysis.Pending, "nodata: 0 requests of minimumSamples 100 so far"}, // no data, never a pass
		{analysis.Error, "down: query failed: connection refused"},
	}
	for i, w := range want {
		if ms[i].Phase != w.phase || ms[i].Message != w.msg {
			t.Errorf("measurement %d: %s %q, want %s %q", i, ms[i].Phase, ms[i].Message, w.phase, w.msg)
		}
	}
	for _, q := range append(builtin.got, prom.got...) {
		if q.Environment != "production" || q.Version != "v2" || !q.From.Equal(from) {
			t.Errorf("query %+v: the router must pass the window on and fill in the environment", q)
		}
	}
	// Too little traffic behind an outside value: Pending, as for builtin metrics.
	builtin.values["request_rate"] = analysis.Value{Value: 0.1, Samples: 6}
	if m := analysis.Judge(conds[1:2], Reader(context.Background(), r, q), 20, from, q.To)[0]; m.Phase != analysis.Pending {
		t.Errorf("conversion on 6 requests: %s %s", m.Phase, m.Message)
	}
	// The count unreadable: an error, never a value judged on no traffic.
	builtin.values["request_rate"] = analysis.Value{Err: "read proxy stats: refused"}
	if v, _ := r.Query(context.Background(), Query{Metric: "conversion", Version: "v2", From: from, To: q.To}); v.Err != "count the version's requests: read proxy stats: refused" {
		t.Errorf("count failed: %+v", v)
	}
}

func TestNewRouterUnknownProvider(t *testing.T) {
	b := &source{name: "builtin"}
	_, err := NewRouter("e", Providers{Builtin: b, "prometheus": b}, map[string]string{"kpi": "promethues"})
	if want := `metric kpi: unknown metric provider "promethues" (known: builtin, prometheus)`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	if _, err := NewRouter("e", Providers{"prometheus": b}, nil); err == nil {
		t.Error("a router without builtin was built")
	}
}
