package backtest

import (
	"fmt"
	"time"

	"github.com/hugai-dev/hugai/internal/analysis"
	"github.com/hugai-dev/hugai/internal/rollout"
)

// Recorded is one rollout as its audit trail kept it: each look of the judge with the seconds of
// both versions it read (what the engine fed the sequential test), in order from the moment the
// candidate first took traffic.
type Recorded struct {
	ID string `json:"id"`
	// Outcome is how the rollout ended (its phase and reason), for the report.
	Outcome string         `json:"outcome"`
	Looks   []RecordedLook `json:"looks"`
}

// RecordedLook is one look's seconds.
type RecordedLook struct {
	Errors  []analysis.Window        `json:"errors"`
	Latency []analysis.LatencyWindow `json:"latency,omitempty"`
}

// WindowRule is the per-window threshold rule a replay compares with: a look fails when its own
// canary error rate is above ErrorRate over at least MinimumSamples requests, as hugai judged
// before its evidence accumulated.
type WindowRule struct {
	ErrorRate      float64 `json:"errorRate"` // fraction
	MinimumSamples int64   `json:"minimumSamples"`
}

// Replayed is what each method decides on a recorded rollout: the seconds of canary traffic
// (seconds in which the candidate served a request) until it would have rolled back, nil when it
// would not have.
type Replayed struct {
	ID             string   `json:"id"`
	Outcome        string   `json:"outcome"`
	Seconds        int      `json:"seconds"`
	CanaryRequests int64    `json:"canaryRequests"`
	Sequential     *float64 `json:"sequential"`
	Threshold      *float64 `json:"threshold"`
	// Statistic is the error-rate test's ln e-value at the end (or when it failed).
	Statistic float64 `json:"statistic"`
}

// Replay runs hugai's sequential test (both tests at cfg.Alpha/2, looked at the end of each
// recorded look, as the rollout did) and the window rule over each recorded rollout.
func Replay(recs []Recorded, cfg analysis.Config, rule WindowRule) ([]Replayed, error) {
	half := cfg
	half.Alpha /= 2
	if err := half.Validate(); err != nil {
		return nil, err
	}
	if !(rule.ErrorRate > 0 && rule.ErrorRate < 1) || rule.MinimumSamples < 0 {
		return nil, fmt.Errorf("window rule: error rate %v, minimum samples %d", rule.ErrorRate, rule.MinimumSamples)
	}
	out := make([]Replayed, 0, len(recs))
	for _, rec := range recs {
		r := Replayed{ID: rec.ID, Outcome: rec.Outcome}
		var errs analysis.Evidence
		var lat analysis.LatencyEvidence
		canarySeconds := 0
		for li, look := range rec.Looks {
			var win analysis.Counts
			for i, w := range look.Errors {
				var err error
				if errs, err = errs.Add(w); err != nil {
					return nil, fmt.Errorf("%s look %d second %d: %w", rec.ID, li+1, i+1, err)
				}
				// The latency test starts after the rollout's warm-up, as the rollout's did.
				if i < len(look.Latency) && time.Duration(r.Seconds)*time.Second >= rollout.LatencyWarmup {
					if lat, err = lat.Add(look.Latency[i]); err != nil {
						return nil, fmt.Errorf("%s look %d second %d: %w", rec.ID, li+1, i+1, err)
					}
				}
				if w.Canary.Requests > 0 {
					canarySeconds++
				}
				r.Seconds++
				r.CanaryRequests += w.Canary.Requests
				win.Requests += w.Canary.Requests
				win.Events += w.Canary.Events
			}
			at := float64(canarySeconds)
			if r.Sequential == nil {
				re, err := analysis.EvaluateErrors(errs, half)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", rec.ID, err)
				}
				rl, err := analysis.EvaluateLatency(lat, half)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", rec.ID, err)
				}
				r.Statistic = re.Statistic
				if re.Decision == analysis.Fail || rl.Decision == analysis.Fail {
					r.Sequential = &at
				}
			}
			if r.Threshold == nil && win.Requests >= rule.MinimumSamples && win.Requests > 0 &&
				float64(win.Events)/float64(win.Requests) > rule.ErrorRate {
				r.Threshold = &at
			}
		}
		out = append(out, r)
	}
	return out, nil
}
