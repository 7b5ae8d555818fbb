package analysis_test

import (
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/criteria"
)

func Example() {
	conds, err := criteria.Parse("error_rate<1%,latency_p95<2s")
	if err != nil {
		fmt.Println(err)
		return
	}
	from := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	limits := analysis.DefaultLimits()
	var tally analysis.Tally
	windows := []map[string]analysis.Value{
		{"error_rate": {Value: 0.2, Samples: 412}, "latency_p95": {Value: 0.85, Samples: 412}},
		{"error_rate": {Value: 0, Samples: 12}, "latency_p95": {Value: 0.8, Samples: 12}},
		{"error_rate": {Value: 20.3, Samples: 412}, "latency_p95": {Err: "proxy at /run/hugai/a.sock: connection refused"}},
	}
	for i, w := range windows {
		to := from.Add(30 * time.Second)
		ms := analysis.Judge(conds, func(m string) analysis.Value { return w[m] }, 20, from, to)
		for _, m := range ms {
			fmt.Printf("window %d: %-12s %s\n", i+1, m.Phase, m.Message)
		}
		tally = tally.Add(ms)
		v := tally.Verdict(limits)
		fmt.Printf("window %d is %s; verdict %s: %s\n", i+1, analysis.WindowPhase(ms), v.Phase, v.Reason)
		from = to
	}
	// Output:
	// window 1: Successful   error_rate 0.2% < 1% over 412 requests
	// window 1: Successful   latency_p95 850ms < 2s over 412 requests
	// window 1 is Successful; verdict Running: 1 window: 1 successful
	// window 2: Pending      error_rate: 12 requests of minimumSamples 20 so far
	// window 2: Pending      latency_p95: 12 requests of minimumSamples 20 so far
	// window 2 is Pending; verdict Running: 2 windows: 1 successful, 1 pending
	// window 3: Failed       error_rate 20.3% ≥ 1% over 412 requests
	// window 3: Error        latency_p95: query failed: proxy at /run/hugai/a.sock: connection refused
	// window 3 is Failed; verdict Failed: 1 failed window > failureLimit 0
}
