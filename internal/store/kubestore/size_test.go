package kubestore

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/audit"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/store"
)

// fullObject is a HugAIDeployment whose status is at every bound, with values of the sizes the
// engine writes (a 3 KiB plan and service file, a 4 KiB state, event payloads of ~200 bytes, the release's
// rollout kept whole beside the current one):
// the largest an object of the store gets, whatever its age.
func fullObject(t testing.TB) *hugaiv1.HugAIDeployment {
	var st hugaiv1.RolloutStatus
	r := rollout("Progressing")
	r.Plan = []byte(strings.Repeat("steps: [{setWeight: 5}]\n", 3<<10/24))
	r.ServiceFile = []byte(strings.Repeat("metrics: [{name: x}]\n", 3<<10/21))
	r.State = json.RawMessage(`{"s":"` + strings.Repeat("x", 4<<10) + `"}`)
	for i := range HistoryMax + 1 {
		r.Phase = "Succeeded"
		if i == HistoryMax {
			r.Phase = "Progressing"
		}
		if _, _, err := apply(&st, store.Tx{Rollout: r}, "checkout", 1, t0); err != nil {
			t.Fatal(err)
		}
		cur := fromRecord(*st.Rollout)
		tx := store.Tx{Rollout: &cur, Release: &store.Release{Service: "checkout", Environment: "production", Version: fmt.Sprint("v", i)}}
		for j := range MeasurementsMax {
			tx.Measurements = append(tx.Measurements, store.Measurement{Metric: "checkout_errors", Version: "v2", Phase: "Successful", Value: 0.25,
				Message: "checkout_errors 0.25 < 1 over 4350 requests", StartedAt: t0, FinishedAt: t0})
			tx.Approvals = append(tx.Approvals, store.Approval{Gate: fmt.Sprint("gate-", j), Actor: "system:serviceaccount:ci:deployer", Decision: "approved", Comment: "looks good", Time: t0})
		}
		for range TailMax {
			tx.Events = append(tx.Events, audit.Event{Type: "rollout.step", Actor: "system:serviceaccount:hugai-system:hugai", Time: t0,
				Payload: json.RawMessage(`{"step":3,"weight":50,"measurements":[{"metric":"checkout_errors","value":0.25,"phase":"Successful"}],"auth":{"via":"kubernetes"}}`)})
		}
		if _, _, err := apply(&st, tx, "checkout", 1, t0); err != nil {
			t.Fatal(err)
		}
	}
	// The worst case also keeps the release's rollout whole beside the current one.
	released := *st.Rollout.DeepCopy()
	released.ID = "checkout-0"
	st.ReleasedRollout = &released
	return &hugaiv1.HugAIDeployment{Status: st}
}

// The bound the design rests on: an object at every bound stays under 80 KiB of JSON, so 500 of
// them in an operator's informer cache are under 40 MiB of JSON (BenchmarkCachedObjects measures the
// heap they take decoded).
func TestStatusAtItsBoundsIsSmall(t *testing.T) {
	hd := fullObject(t)
	b, err := json.Marshal(hd)
	if err != nil {
		t.Fatal(err)
	}
	if len(hd.Status.Audit.Tail) > TailMax+TailMax || len(hd.Status.History) != HistoryMax || len(hd.Status.Measurements) != MeasurementsMax {
		t.Fatalf("not at the bounds: tail %d history %d measurements %d", len(hd.Status.Audit.Tail), len(hd.Status.History), len(hd.Status.Measurements))
	}
	if len(b) > 80<<10 {
		t.Fatalf("a status at its bounds is %d bytes of JSON, want at most 80 KiB", len(b))
	}
	t.Logf("status at its bounds: %d bytes of JSON", len(b))
}

// BenchmarkCachedObjects decodes 500 objects at their bounds, as an informer cache holds them, and
// reports the heap they keep.
func BenchmarkCachedObjects(b *testing.B) {
	raw, err := json.Marshal(fullObject(b))
	if err != nil {
		b.Fatal(err)
	}
	const n = 500
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		objs := make([]*hugaiv1.HugAIDeployment, n)
		for i := range objs {
			objs[i] = &hugaiv1.HugAIDeployment{}
			if err := json.Unmarshal(raw, objs[i]); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/500objects")
		b.ReportMetric(float64(len(raw)), "JSONbytes/object")
		runtime.KeepAlive(objs)
	}
}
