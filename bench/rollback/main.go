// Command rollback measures how fast hugai rolls a bad canary back on the local target: the time
// from the bad canary's first error to hugai's decision (a window must end and be judged), and the
// time from the decision to the last request sent to the bad version. Run by bench/rollback.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/loadgen"
)

func main() {
	hugai := flag.String("hugai", "bin/hugai", "hugai binary")
	file := flag.String("f", "examples/demo/hugai.yaml", "service file")
	url := flag.String("url", "http://127.0.0.1:18080/", "the service's address")
	rate := flag.Int("rate", 100, "requests per second")
	runs := flag.Int("runs", 3, "bad canaries to measure")
	interval := flag.String("interval", "5s", "--health-check-interval of the canary")
	flag.Parse()
	if err := run(*hugai, *file, *url, *rate, *runs, *interval); err != nil {
		fmt.Fprintln(os.Stderr, "rollback bench:", err)
		os.Exit(1)
	}
}

func run(hugai, file, url string, rate, runs int, interval string) error {
	data, err := os.MkdirTemp("", "hugai-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(data)
	os.Setenv("HUGAI_SERVER", data)
	srv := exec.Command(hugai, "server", "-f", file, "--data-dir", data)
	logf, _ := os.Create(filepath.Join(data, "server.log"))
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		_ = exec.Command(hugai, "server", "stop", "--all").Run()
		_ = srv.Wait()
	}()
	for i := 0; exec.Command(hugai, "deploy", "list").Run() != nil; i++ {
		if i > 100 {
			return fmt.Errorf("server did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	canary := func(v string) int {
		cmd := exec.Command(hugai, "deploy", "canary", "-f", file, "--environment", "production", "--version", v,
			"--traffic-split", "10,25,50,100", "--health-check-interval", interval)
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	}
	if code := canary("v1"); code != 0 {
		return fmt.Errorf("first deploy of v1: exit %d", code)
	}
	load := loadgen.StartRecording(context.Background(), url, rate)
	defer load.Stop()
	time.Sleep(2 * time.Second)

	var decide, switchOff []time.Duration
	for i := range runs {
		start := time.Now()
		if code := canary("v3"); code != 3 {
			return fmt.Errorf("run %d: the bad canary exited %d, want 3", i, code)
		}
		time.Sleep(2 * time.Second) // let the last answers come in
		decision, err := decisionTime(hugai, data, start)
		if err != nil {
			return err
		}
		var firstErr, lastToBad time.Time
		for _, a := range load.Answers() {
			if a.Sent.Before(start) || a.Version != "v3" {
				continue
			}
			if a.Status >= 500 && (firstErr.IsZero() || a.Sent.Before(firstErr)) {
				firstErr = a.Sent
			}
			if a.Sent.After(lastToBad) {
				lastToBad = a.Sent
			}
		}
		d, s := decision.Sub(firstErr), max(lastToBad.Sub(decision), 0)
		decide, switchOff = append(decide, d), append(switchOff, s)
		fmt.Printf("run %d: first v3 error → decision %v; decision → last request sent to v3 %v\n", i+1, d.Round(time.Millisecond), s.Round(time.Millisecond))
	}
	sum := load.Stop()
	fmt.Printf("load: %s\n", sum)
	fmt.Printf("median: first error → decision %v; decision → all traffic on stable %v (%d runs, %d req/s, interval %s)\n",
		median(decide).Round(time.Millisecond), median(switchOff).Round(time.Millisecond), runs, rate, interval)
	return nil
}

// decisionTime is when the engine committed RollingBack for the newest rollout (its audit event).
func decisionTime(hugai, data string, after time.Time) (time.Time, error) {
	out, err := exec.Command(hugai, "audit", "log", "--data-dir", data, "-o", "json", "--limit", "100000").Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("audit log: %w", err)
	}
	var events []audit.Event
	if err := json.Unmarshal(out, &events); err != nil {
		return time.Time{}, fmt.Errorf("audit log: %w", err)
	}
	var t time.Time
	for _, ev := range events {
		if ev.Type != "rollout.phase" || ev.Time.Before(after) {
			continue
		}
		var p struct{ To string }
		if json.Unmarshal(ev.Payload, &p) == nil && p.To == "RollingBack" {
			t = ev.Time
		}
	}
	if t.IsZero() {
		return t, fmt.Errorf("no RollingBack event after %s", after)
	}
	return t, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
