// Package loadgen sends HTTP requests at a fixed rate and counts the answers by the version that
// served them (X-Hugai-Version), so a test or the demo can tell a candidate's own errors from a
// request that hugai failed. It is what hugai's end-to-end tests and demo drive traffic with.
package loadgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Counts are the answers of one version.
type Counts struct {
	OK     int `json:"ok"`     // 2xx-4xx
	Errors int `json:"errors"` // 5xx
}

// Summary is what a run saw. Failed are requests with no answer at all (refused, reset, timed
// out) or a 5xx without a version: failures that no candidate can be blamed for.
type Summary struct {
	Sent      int               `json:"sent"`
	ByVersion map[string]Counts `json:"byVersion"`
	Failed    int               `json:"failed"`
	Reasons   []string          `json:"reasons,omitempty"`
}

func (s Summary) String() string {
	var vs []string
	for v := range s.ByVersion {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests:", s.Sent)
	for _, v := range vs {
		c := s.ByVersion[v]
		fmt.Fprintf(&b, " %s %d ok/%d 5xx;", v, c.OK, c.Errors)
	}
	fmt.Fprintf(&b, " %d failed by no version", s.Failed)
	return b.String()
}

// Answer is one request's outcome, for callers that need timings (benchmarks).
type Answer struct {
	Sent    time.Time
	Version string
	Status  int // 0: no answer
}

// Run is a load in progress.
type Run struct {
	mu      sync.Mutex
	sum     Summary
	record  bool
	answers []Answer
	cancel  context.CancelFunc
	done    chan struct{}
	pending sync.WaitGroup
}

// Start sends GET url at rate requests per second until Stop (or ctx ends). Each request has its
// own goroutine so a slow answer does not lower the rate.
func Start(ctx context.Context, url string, rate int) *Run {
	return start(ctx, url, rate, false)
}

// StartRecording is Start, keeping every answer for Answers.
func StartRecording(ctx context.Context, url string, rate int) *Run {
	return start(ctx, url, rate, true)
}

func start(ctx context.Context, url string, rate int, record bool) *Run {
	ctx, cancel := context.WithCancel(ctx)
	r := &Run{sum: Summary{ByVersion: map[string]Counts{}}, cancel: cancel, done: make(chan struct{}), record: record}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	go func() {
		defer close(r.done)
		tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
		defer tick.Stop()
		// The rate is kept by counting what is due since the start, not by one request per tick:
		// a ticker drops the ticks its goroutine was too busy (or too starved of CPU) to take, and
		// on a loaded machine that sent two thirds of the rate asked for. A stall is made up for
		// by at most one second's worth at once.
		begin, sent := time.Now(), int64(0)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			due := int64(time.Since(begin).Seconds() * float64(rate))
			sent = max(sent, due-int64(rate))
			for ; sent < due; sent++ {
				r.pending.Add(1)
				go func() {
					defer r.pending.Done()
					r.one(ctx, client, url)
				}()
			}
		}
	}()
	return r
}

func (r *Run) one(ctx context.Context, client *http.Client, url string) {
	req, _ := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, url, nil)
	sent := time.Now()
	resp, err := client.Do(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Sent++
	if r.record {
		a := Answer{Sent: sent}
		if err == nil {
			a.Version, a.Status = resp.Header.Get("X-Hugai-Version"), resp.StatusCode
		}
		r.answers = append(r.answers, a)
	}
	if err != nil {
		r.sum.Failed++
		if len(r.sum.Reasons) < 10 {
			r.sum.Reasons = append(r.sum.Reasons, err.Error())
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	v := resp.Header.Get("X-Hugai-Version")
	if v == "" || v == "none" {
		if resp.StatusCode >= 500 {
			r.sum.Failed++
			if len(r.sum.Reasons) < 10 {
				r.sum.Reasons = append(r.sum.Reasons, fmt.Sprintf("%d without a version", resp.StatusCode))
			}
			return
		}
	}
	c := r.sum.ByVersion[v]
	if resp.StatusCode >= 500 {
		c.Errors++
	} else {
		c.OK++
	}
	r.sum.ByVersion[v] = c
}

// Snapshot returns the counts so far.
func (r *Run) Snapshot() Summary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.sum
	s.ByVersion = map[string]Counts{}
	for k, v := range r.sum.ByVersion {
		s.ByVersion[k] = v
	}
	s.Reasons = append([]string(nil), r.sum.Reasons...)
	return s
}

// Answers returns every answer so far (StartRecording only), in the order they came.
func (r *Run) Answers() []Answer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Answer(nil), r.answers...)
}

// Stop ends the load, waits for the answers in flight and returns the summary.
func (r *Run) Stop() Summary {
	r.cancel()
	<-r.done
	r.pending.Wait()
	return r.Snapshot()
}
