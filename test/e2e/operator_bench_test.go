//go:build e2e && kube

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/hugai-dev/hugai/internal/eventually"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/plan"
)

// benchServiceYAML is service %[2]s by replica ratio (no router), metrics from %[1]s.
const benchServiceYAML = `apiVersion: hugai.io/v1
kind: Service
metadata:
  name: %[2]s
spec:
  target:
    type: kubernetes
    kubernetes:
      namespace: bench
      deployment: %[2]s
      container: app
      image: registry.example.com/app:{{.Version}}
      replicas: 2
  metrics:
    - {name: request_rate, provider: web, address: "%[1]s/rate", jsonPath: $.value}
    - {name: app_errors, provider: web, address: "%[1]s/errors", jsonPath: $.value}
  environments:
    production:
      successCriteria: app_errors<1
      analysis:
        interval: 2s
        minimumSamples: 20
`

// BenchmarkOperator500 measures `hugai operator` with 500 HugAIDeployments progressing at once
// on a real API server (the test plays every kubelet): reconciles per second (from
// controller-runtime's own reconcile counter) while every canary holds its 50% step and is judged
// at each look ("progressing-"), and over the whole canary from the edit to the last Succeeded,
// where most looks move something; and the operator's resident memory.
// It runs once whatever b.N is: `go test -tags e2e,kube -run '^$' -bench BenchmarkOperator500
// -benchtime 1x ./test/e2e/` (HUGAI_BENCH_DEPLOYMENTS changes the 500, HUGAI_BENCH_PAUSE the
// 2 minutes the step is held).
func BenchmarkOperator500(b *testing.B) {
	n := 500
	if v, err := strconv.Atoi(os.Getenv("HUGAI_BENCH_DEPLOYMENTS")); err == nil && v > 0 {
		n = v
	}
	cl := kubetest.Start(b, kubetest.Options{CRDPaths: []string{"../../config/crd"}, AddToScheme: []func(*runtime.Scheme) error{hugaiv1.AddToScheme}})
	c := cl.Client
	ctx := context.Background()
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rate":
			fmt.Fprint(w, `{"value": 50}`)
		case "/errors":
			fmt.Fprint(w, `{"value": 0}`)
		}
	}))
	b.Cleanup(metrics.Close)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bench"}}); err != nil {
		b.Fatal(err)
	}
	names := make([]string, n)
	each(b, n, func(i int) error {
		name := fmt.Sprintf("svc-%03d", i)
		names[i] = name
		labels := map[string]string{"app": name}
		for _, o := range []client.Object{
			&appsv1.Deployment{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench"},
				Spec: appsv1.DeploymentSpec{Replicas: new(int32), Selector: &metav1.LabelSelector{MatchLabels: labels},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:v0"}}}}},
			},
			&corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name + "-hugai", Namespace: "bench", Labels: map[string]string{"hugai.io/service-file": name}},
				Data:       map[string]string{"hugai.yaml": fmt.Sprintf(benchServiceYAML, metrics.URL, name)},
			},
			&hugaiv1.HugAIDeployment{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench"},
				Spec:       plan.HugAIDeploymentSpec{Service: name, Version: "v1", Environment: "production", Strategy: plan.Strategy{Type: "canary"}},
			},
		} {
			if err := c.Create(ctx, o); err != nil {
				return fmt.Errorf("create %s: %w", o.GetName(), err)
			}
		}
		return nil
	})
	kubetest.StartWatchingKubelet(b, cl, "bench", func(*corev1.PodTemplateSpec) kubetest.Behaviour { return kubetest.Good })

	dir := b.TempDir()
	port := freePort(b)
	// Each rollout looked at at least every second: N rollouts then ask for at least N reconciles
	// a second, so what the operator reaches is its capacity.
	op := startDaemon(b, dir, "operator", "operator", "--kubeconfig", cl.Kubeconfig, "--leader-elect=false", "--health-addr", "0",
		"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", port), "--tick", "1s")
	// Watched, not listed: a LIST of 500 objects of tens of KiB, every second or two, was a
	// fifth of the API server's time in a profile, load the operator was then measured under.
	watched, err := cache.New(cl.Config, cache.Options{Scheme: cl.Scheme, DefaultNamespaces: map[string]cache.Config{"bench": {}}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := watched.GetInformer(ctx, &hugaiv1.HugAIDeployment{}); err != nil {
		b.Fatal(err)
	}
	wctx, stopWatching := context.WithCancel(ctx)
	b.Cleanup(stopWatching)
	go func() { _ = watched.Start(wctx) }()
	if !watched.WaitForCacheSync(wctx) {
		b.Fatal("the HugAIDeployments' informer did not sync")
	}
	// allAt says whether all n are where ok says (at generation gen), and else where they are.
	allAt := func(gen int64, ok func(st hugaiv1.RolloutStatus) bool) error {
		var list hugaiv1.HugAIDeploymentList
		if err := watched.List(ctx, &list, client.InNamespace("bench")); err != nil {
			return err
		}
		where := map[string]int{}
		for _, hd := range list.Items {
			st := hd.Status
			if st.ObservedGeneration == gen && ok(st) {
				continue
			}
			msg := st.Message
			if len(msg) > 100 {
				msg = msg[:100]
			}
			where[fmt.Sprintf("generation %d/%d %s step %s weight %d: %s", st.ObservedGeneration, hd.Generation, st.Phase, st.Step, st.Weight, msg)]++
		}
		if len(where) == 0 {
			return nil
		}
		var lines []string
		for k, v := range where {
			lines = append(lines, fmt.Sprintf("%4d %s", v, k))
		}
		sort.Strings(lines)
		return fmt.Errorf("not yet:\n%s", strings.Join(lines, "\n"))
	}
	succeeded := func(st hugaiv1.RolloutStatus) bool { return st.Phase == "Succeeded" }
	pausedAt50 := func(st hugaiv1.RolloutStatus) bool { return st.Phase == "Progressing" && st.Weight == 50 }
	eventually.NoError(b, 10*time.Minute, fmt.Sprintf("%d first releases", n), func() error { return allAt(1, succeeded) })

	// Every one of them starts a canary at once: 50% for the pause, then 100%.
	pause := plan.Seconds{Duration: plan.D(benchPause())}
	each(b, n, func(i int) error {
		key := types.NamespacedName{Namespace: "bench", Name: names[i]}
		for {
			var hd hugaiv1.HugAIDeployment
			if err := c.Get(ctx, key, &hd); err != nil {
				return err
			}
			hd.Spec.Version = "v2"
			hd.Spec.Rollout = &plan.RolloutSteps{Steps: []plan.WeightStep{{Weight: 50, Pause: &pause}, {Weight: 100}}}
			err := c.Update(ctx, &hd)
			if err == nil {
				return nil
			}
			if !strings.Contains(err.Error(), "the object has been modified") {
				return err
			}
		}
	})
	start, before, apiBefore := time.Now(), reconciles(b, port), apiRequests(b, cl.Config)
	b.ResetTimer()

	// Progressing: every canary up and holding its 50% step, judged at every look. Sampled over
	// a window that ends before the first of them may leave the step.
	eventually.NoError(b, pause.Duration.Duration, fmt.Sprintf("%d canaries holding 50%%", n), func() error { return allAt(2, pausedAt50) })
	holding := time.Since(start)
	window := min(30*time.Second, pause.Duration.Duration-holding-5*time.Second)
	if window < 10*time.Second {
		b.Fatalf("the canaries took %s to reach their 50%% step of %s: no time left to sample it; raise HUGAI_BENCH_PAUSE", holding.Round(time.Second), pause.Duration.Duration)
	}
	wBefore, wAPIBefore := reconciles(b, port), apiRequests(b, cl.Config)
	time.Sleep(window)
	wAfter, wAPIAfter := reconciles(b, port), apiRequests(b, cl.Config)
	if err := allAt(2, pausedAt50); err != nil {
		b.Fatalf("a canary left its step during the sample: %v", err)
	}
	steady := float64(wAfter-wBefore) / window.Seconds()
	b.ReportMetric(steady, "progressing-reconciles/s")
	b.ReportMetric(perReconcile(wAPIBefore, wAPIAfter, wAfter-wBefore), "progressing-API-requests/reconcile")
	wRSS, _ := procMemory(b, op.cmd.Process.Pid)
	b.Logf("holding 50%%: %d reconciles in %s (%.0f/s), operator RSS %d MiB", wAfter-wBefore, window, steady, wRSS>>20)

	eventually.NoError(b, 15*time.Minute, fmt.Sprintf("%d canaries Succeeded", n), func() error { return allAt(2, succeeded) })
	b.StopTimer()
	elapsed, after, apiAfter := time.Since(start), reconciles(b, port), apiRequests(b, cl.Config)
	rss, peak := procMemory(b, op.cmd.Process.Pid)
	heap := sumMetric(b, port, "go_memstats_heap_inuse_bytes")
	b.ReportMetric(heap/(1<<20), "heap-inuse-MiB")
	perSec := float64(after-before) / elapsed.Seconds()
	b.ReportMetric(perSec, "reconciles/s")
	b.ReportMetric(float64(rss)/(1<<20), "RSS-MiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(elapsed.Seconds(), "s-to-all-Succeeded")
	b.ReportMetric(holding.Seconds(), "s-to-all-holding-50%")
	var list hugaiv1.HugAIDeploymentList
	if err := c.List(ctx, &list, client.InNamespace("bench")); err != nil {
		b.Fatal(err)
	}
	size := 0
	for _, hd := range list.Items {
		j, _ := json.Marshal(hd.Status)
		size += len(j)
	}
	b.ReportMetric(float64(size)/float64(len(list.Items))/1024, "status-KiB")
	var calls []string
	var total float64
	for k, v := range apiAfter {
		if d := v - apiBefore[k]; d > 0 {
			total += d
			calls = append(calls, fmt.Sprintf("%s %.2f", k, d/float64(after-before)))
		}
	}
	sort.Strings(calls)
	b.ReportMetric(total/float64(after-before), "API-requests/reconcile")
	fmt.Fprintf(os.Stderr, "API requests per reconcile (every client of the API server, the stand-in kubelet's too):\n%s\n", strings.Join(calls, "\n"))
	b.Logf("%d HugAIDeployments: %d reconciles in %s (%.0f/s), operator RSS %d MiB (peak %d MiB)", n, after-before, elapsed.Round(time.Second), perSec, rss>>20, peak>>20)
}

// benchPause is how long each canary holds 50%: HUGAI_BENCH_PAUSE, else 2 minutes (time for 500
// to get there, and a 30 s sample while all of them hold it).
func benchPause() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("HUGAI_BENCH_PAUSE")); err == nil && d > 0 {
		return d
	}
	return 2 * time.Minute
}

// perReconcile is the API server's requests between two counts, per reconcile.
func perReconcile(before, after map[string]float64, reconciles int64) float64 {
	var total float64
	for k, v := range after {
		total += v - before[k]
	}
	return total / float64(max(reconciles, 1))
}

// each runs f for 0..n-1 on 16 goroutines, failing the benchmark on the first error.
func each(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func freePort(b *testing.B) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sumMetric is the sum of the operator's samples (from its /metrics) of the series name whose
// labels include every one of with.
func sumMetric(b *testing.B, port int, name string, with ...string) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var total float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.SplitN(f[0], "{", 2)[0] != name || slices.ContainsFunc(with, func(l string) bool { return !strings.Contains(f[0], l) }) {
			continue
		}
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		total += v
	}
	return total
}

// reconciles is controller-runtime's count of the operator's reconciles so far.
func reconciles(b *testing.B, port int) int64 {
	return int64(sumMetric(b, port, "controller_runtime_reconcile_total", `controller="hugaideployment"`))
}

// apiRequests is the API server's count of the requests it served so far, by verb and resource.
func apiRequests(b *testing.B, cfg *rest.Config) map[string]float64 {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := hc.Get(strings.TrimSuffix(cfg.Host, "/") + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels := map[string]string{}
		for _, kv := range strings.Split(line[strings.Index(line, "{")+1:strings.LastIndex(line, "}")], ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		f := strings.Fields(line)
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		key := labels["verb"] + " " + labels["resource"]
		if labels["subresource"] != "" {
			key += "/" + labels["subresource"]
		}
		out[key] += v
	}
	return out
}

// procMemory is a process' resident memory now and at its peak, from /proc.
func procMemory(b *testing.B, pid int) (rss, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak
}
