package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestBacktestCommand(t *testing.T) {
	t.Parallel()
	code, out, errOut := run(t, "analyze", "backtest", "--runs", "40", "--error-effect", "1,10x", "--duration", "2m", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var reports []struct {
		Scenario   struct{ ErrorEffect float64 }
		Sequential struct{ Runs, Alarms int }
		Threshold  struct{ Rule string }
	}
	if err := json.Unmarshal([]byte(out), &reports); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(reports) != 2 || reports[1].Scenario.ErrorEffect != 10 || reports[1].Sequential.Alarms != 40 || reports[0].Threshold.Rule == "" {
		t.Errorf("reports: %+v", reports)
	}
	code, out, _ = run(t, "analyze", "backtest", "--runs", "20", "--error-effect", "4", "--duration", "1m")
	if code != 0 || !strings.Contains(out, "sequential") || !strings.Contains(out, "threshold") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
}

func TestBacktestBadFlags(t *testing.T) {
	t.Parallel()
	for flag, args := range map[string][]string{
		"--weight":         {"--weight", "5"},
		"--error-rate":     {"--error-rate", "2pp"},
		"--error-effect":   {"--error-effect", "ten"},
		"--latency-effect": {"--latency-effect", "50"},
		"--look":           {"--look", "1500ms"},
		"--window":         {"--window", "20m"},
		"--runs":           {"--runs", "0"},
		"--alpha":          {"--alpha", "0.7"},
		"--output":         {"-o", "yaml"},
		"--rps":            {"--rps", "-3"},
	} {
		code, _, errOut := run(t, append([]string{"analyze", "backtest"}, args...)...)
		if code != ExitBadInput || !strings.Contains(errOut, flag) {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", args, code, errOut, flag)
		}
	}
}
