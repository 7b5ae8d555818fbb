// Command apiload measures hugai's API under a mixed read load at a fixed rate (open loop: a slow
// answer does not slow the load), with Server-Sent Events watchers open meanwhile, and samples the
// server's resident memory. bench/api.sh runs it against a real server with rollouts running.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	server := flag.String("server", "", "the server's URL, e.g. https://127.0.0.1:8443")
	token := os.Getenv("HUGAI_TOKEN")
	rate := flag.Int("rate", 200, "requests per second")
	watchers := flag.Int("watchers", 20, "event streams open meanwhile")
	duration := flag.Duration("duration", time.Minute, "how long to load")
	pid := flag.Int("pid", 0, "the server's pid, for its memory")
	service := flag.String("service", "demo", "the service whose events are watched")
	flag.Parse()
	if *server == "" || token == "" {
		fmt.Fprintln(os.Stderr, "apiload: -server and $HUGAI_TOKEN are required")
		os.Exit(2)
	}
	// The server's certificate is its own self-signed one; this tool measures, it does not trust.
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 256}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	get := func(ctx context.Context, path string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, *server+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return hc.Do(req)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	// Watchers: half on the service's stream, half on its newest rollout's.
	var events atomic.Int64
	var wg sync.WaitGroup
	for i := range *watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				path := "/api/v1/events?service=" + *service
				if i%2 == 1 {
					if id := newest(ctx, get); id != "" {
						path = "/api/v1/rollouts/" + id + "/events"
					}
				}
				resp, err := get(ctx, path)
				if err != nil {
					continue
				}
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "event: ") {
						events.Add(1)
					}
				}
				resp.Body.Close()
			}
		}()
	}

	// The mixed read load.
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	routes := []struct {
		weight int
		path   func(id string) string
	}{
		{30, func(string) string { return "/api/v1/rollouts?limit=20" }},
		{30, func(id string) string { return "/api/v1/rollouts/" + id }},
		{15, func(string) string { return "/api/v1/info" }},
		{15, func(string) string { return "/api/v1/audit?limit=50" }},
		{10, func(id string) string { return "/api/v1/rollouts/" + id + "/measurements" }},
	}
	var id atomic.Value
	id.Store(newest(ctx, get))
	go func() {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n := newest(ctx, get); n != "" {
					id.Store(n)
				}
			}
		}
	}()
	var rss []int64
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if kb := vmRSS(*pid); kb > 0 {
					mu.Lock()
					rss = append(rss, kb)
					mu.Unlock()
				}
			}
		}
	}()
	tick := time.NewTicker(time.Second / time.Duration(*rate))
	defer tick.Stop()
	var inflight sync.WaitGroup
	sent := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		n := rand.IntN(100)
		var path string
		for _, r := range routes {
			if n -= r.weight; n < 0 {
				path = r.path(id.Load().(string))
				break
			}
		}
		sent++
		inflight.Add(1)
		go func() {
			defer inflight.Done()
			start := time.Now()
			resp, err := get(context.Background(), path)
			if err != nil {
				failed.Add(1)
				return
			}
			var sink json.RawMessage
			_ = json.NewDecoder(resp.Body).Decode(&sink)
			resp.Body.Close()
			d := time.Since(start)
			if resp.StatusCode != 200 {
				failed.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}()
	}
	inflight.Wait()
	cancel()
	wg.Wait()
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	slices.Sort(rss)
	var rssMax, rssMed int64
	if len(rss) > 0 {
		rssMax, rssMed = rss[len(rss)-1], rss[len(rss)/2]
	}
	fmt.Printf("requests %d (%.0f/s), failed %d; latency p50 %s p90 %s p99 %s max %s; %d watchers got %d events; server RSS median %.1f MiB, max %.1f MiB\n",
		sent, float64(sent)/duration.Seconds(), failed.Load(), q(0.5).Round(time.Microsecond*10), q(0.9).Round(time.Microsecond*10),
		q(0.99).Round(time.Microsecond*10), q(1).Round(time.Microsecond*10), *watchers, events.Load(), float64(rssMed)/1024, float64(rssMax)/1024)
}

// newest is the ID of the service's newest rollout.
func newest(ctx context.Context, get func(context.Context, string) (*http.Response, error)) string {
	resp, err := get(ctx, "/api/v1/rollouts?limit=1")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var rs []struct {
		ID string `json:"id"`
	}
	if json.NewDecoder(resp.Body).Decode(&rs) != nil || len(rs) == 0 {
		return ""
	}
	return rs[0].ID
}

// vmRSS is a process's resident memory in KiB (0 when unknown).
func vmRSS(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}
