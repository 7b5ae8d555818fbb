//go:build e2e && judgebench

package e2e

// The judge on real rollouts, as a consistency check of the simulation (issue 8): canaries of the
// demo service through the real proxy at 100 req/s and a 5% weight, the stable version failing
// 0.5% of requests, the candidate alike (A/A), 4× or 10× worse; several environments at once.
// bench/judge-real.sh runs it and prints the simulation's figures for the same scenario beside.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
)

// release writes a demo release that fails share of its requests.
func writeRelease(t *testing.T, version string, share float64) {
	t.Helper()
	demo := filepath.Join(filepath.Dir(built.releases), "demo")
	dir := filepath.Join(built.releases, version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\nexec '%s' \"$@\" --ready-after 300ms --error-rate %g\n", demo, share)
	if err := os.WriteFile(filepath.Join(dir, "demo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// envInt reads a whole number of at least least from the environment, def when it is unset. A value
// that is not one fails the bench: running 30 A/A rollouts for a mistyped 0 would waste an hour.
func envInt(t *testing.T, name string, def, least int) int {
	s, ok := os.LookupEnv(name)
	if !ok || s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < least {
		t.Fatalf("%s=%q: want a whole number of at least %d", name, s, least)
	}
	return v
}

type benchRun struct {
	kind     string // 1x, 4x, 10x
	phase    string
	decision time.Duration // command start to its end
}

func TestJudgeOnRealRollouts(t *testing.T) {
	aa, bad, workers := envInt(t, "JUDGE_AA", 30, 0), envInt(t, "JUDGE_BAD", 10, 0), envInt(t, "JUDGE_WORKERS", 2, 1)
	hold := os.Getenv("JUDGE_HOLD")
	if hold == "" {
		hold = "30s"
	}
	type job struct {
		kind  string
		share float64
	}
	var jobs []job
	for i := 0; i < max(aa, bad); i++ {
		if i < aa {
			jobs = append(jobs, job{"1x", 0.005})
		}
		if i < bad {
			jobs = append(jobs, job{"4x", 0.02}, job{"10x", 0.05})
		}
	}
	if len(jobs) == 0 {
		t.Fatal("JUDGE_AA and JUDGE_BAD are both 0: no rollout to run")
	}
	queue := make(chan job, len(jobs))
	for _, j := range jobs {
		queue <- j
	}
	close(queue)
	var mu sync.Mutex
	var runs []benchRun
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		t.Run(fmt.Sprintf("worker%d", w), func(t *testing.T) {
			t.Parallel()
			defer wg.Done()
			e := newEnv(t, "        method: sequential\n        alpha: 0.01\n")
			base := fmt.Sprintf("w%d-base", w)
			writeRelease(t, base, 0.005)
			e.startServer()
			e.deployFirst(base)
			load := e.steadyLoad(100)
			defer load.Stop()
			n := 0
			for j := range queue {
				n++
				v := fmt.Sprintf("w%d-%s-%d", w, j.kind, n)
				writeRelease(t, v, j.share)
				start := time.Now()
				r := e.hugai("deploy", "canary", "-f", e.file, "--environment", "production", "--version", v,
					"--traffic-split", "5,100", "--health-check-interval", hold, "--detach")
				if r.code != 0 {
					t.Errorf("%s: exit %d\n%s\n%s", v, r.code, r.stdout, r.stderr)
					continue
				}
				id := firstLine(r.stdout)
				// A rollout the judge cannot decide pauses for a person: counted as paused and
				// aborted, so the next one can start.
				var st api.Rollout
				for {
					st = e.status(id)
					if st.Terminal || st.Phase == "Paused" {
						break
					}
					if st.Phase == "AwaitingApproval" {
						// The planner asks for an approval once the service's recent rollbacks
						// raise its risk; the bench gives it, as the on-call person would.
						if a := e.hugai("deploy", "approve", id); a.code != 0 && !strings.Contains(a.stderr, "not waiting") {
							t.Errorf("approve %s: %d %s", id, a.code, a.stderr)
						}
					}
					time.Sleep(250 * time.Millisecond)
				}
				took := time.Since(start)
				if st.Phase == "Paused" {
					if a := e.hugai("deploy", "abort", id, "--detach"); a.code != 0 && a.code != 4 {
						t.Errorf("abort %s: %d %s", id, a.code, a.stderr)
					}
					for !e.status(id).Terminal {
						time.Sleep(250 * time.Millisecond)
					}
				}
				mu.Lock()
				runs = append(runs, benchRun{kind: j.kind, phase: st.Phase, decision: took})
				mu.Unlock()
				t.Logf("%s %s after %s: %s", v, st.Phase, took.Round(100*time.Millisecond), st.Message)
			}
		})
	}
	t.Cleanup(func() {
		wg.Wait()
		var b strings.Builder
		fmt.Fprintf(&b, "\nKIND  RUNS  PROMOTED  PAUSED  ROLLED BACK  MEDIAN TO ROLLBACK  P90\n")
		for _, kind := range []string{"1x", "4x", "10x"} {
			var n, back, promoted, paused int
			var ds []time.Duration
			for _, r := range runs {
				if r.kind != kind {
					continue
				}
				n++
				switch r.phase {
				case "Succeeded":
					promoted++
				case "Paused":
					paused++
				}
				if r.phase == "RolledBack" {
					back++
					ds = append(ds, r.decision)
				}
			}
			slices.Sort(ds)
			q := func(p float64) string {
				if len(ds) == 0 {
					return "-"
				}
				return ds[min(len(ds)-1, int(p*float64(len(ds))))].Round(time.Second).String()
			}
			fmt.Fprintf(&b, "%-4s  %4d  %8d  %6d  %11d  %18s  %s\n", kind, n, promoted, paused, back, q(0.5), q(0.9))
		}
		t.Log(b.String())
		fmt.Println(b.String())
	})
}
