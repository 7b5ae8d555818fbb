//go:build e2e && kube

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/hugai-dev/hugai/internal/eventually"
	hugaiv1 "github.com/hugai-dev/hugai/internal/kube/apis/v1"
	"github.com/hugai-dev/hugai/internal/kube/kubetest"
	"github.com/hugai-dev/hugai/internal/plan"
)

// operatorShop is a real API server with hugai's and Gateway API's CRDs, and namespace shop as
// kubeWorld makes it: the test playing its kubelet, the service file of checkout in a ConfigMap,
// its metrics served by the test (errors only from version failing, "": none).
func operatorShop(t *testing.T, failing string) *kubetest.Cluster {
	t.Helper()
	cl := kubetest.Start(t, kubetest.Options{
		CRDPaths:    []string{"../../internal/target/kubernetes/testdata/gateway-api", "../../config/crd"},
		AddToScheme: []func(*runtime.Scheme) error{gatewayv1.Install, hugaiv1.AddToScheme},
	})
	c := cl.Client
	kubeWorld(t, c, "shop")
	kubetest.StartKubelet(t, c, "shop", func(*corev1.PodTemplateSpec) kubetest.Behaviour { return kubetest.Good })
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rate":
			fmt.Fprint(w, `{"value": 50}`)
		case "/errors":
			if failing != "" && r.URL.Query().Get("version") == failing {
				fmt.Fprint(w, `{"value": 5}`)
			} else {
				fmt.Fprint(w, `{"value": 0}`)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(metrics.Close)
	if err := c.Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout-hugai", Namespace: "shop", Labels: map[string]string{"hugai.io/service-file": "checkout"}},
		Data:       map[string]string{"hugai.yaml": fmt.Sprintf(kubeServiceYAML, metrics.URL)},
	}); err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestOperator runs `hugai operator` (the built binary) against a real API server with hugai's
// CRDs and admission policies: HugAIDeployments created and edited with the Kubernetes API, the
// test playing the kubelet and serving the metrics. It checks the seed's 5/25/50/100 walk on the
// HTTPRoute with the operator killed (SIGKILL) at 25% and a new one carrying on from the status
// with no step repeated, a regression rolled back, an approval given through a DeploymentAction as
// the user the API server authenticated (and a forged one refused by the API server), a spec edited
// mid-rollout restarting the analysis, the printer columns, and the audit chain in the cluster.
func TestOperator(t *testing.T) {
	scenarios <- struct{}{}
	t.Cleanup(func() { <-scenarios })
	cl := operatorShop(t, "v3")
	c := cl.Client
	ctx := context.Background()
	applyFile(t, c, "../../config/rbac/action_policy.yaml")

	dir := t.TempDir()
	e := &env{t: t, dir: dir, dataDir: filepath.Join(dir, ".hugai")}
	// A short lease, so a new operator takes over from a killed one within seconds.
	op := startDaemon(t, e.dir, "operator", "operator", "--kubeconfig", cl.Kubeconfig, "--leader-election-namespace", "shop",
		"--leader-elect-lease-duration", "3s", "--leader-elect-renew-deadline", "2s", "--leader-elect-retry-period", "500ms",
		"--health-addr", "0", "--tick", "1s")
	w := watchRoute(t, c, "shop", "checkout")
	key := types.NamespacedName{Namespace: "shop", Name: "checkout"}

	// The first HugAIDeployment starts v1: nothing ran before, so it simply becomes the release.
	hd := &hugaiv1.HugAIDeployment{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"}}
	hd.Spec = plan.HugAIDeploymentSpec{Service: "checkout", Version: "v1", Environment: "production", Strategy: plan.Strategy{Type: "canary"}}
	if err := c.Create(ctx, hd); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, c, key, 1, "Succeeded")
	w.waitFor(t, map[string]int{"v1": 100})

	// v2 walks the seed's steps; the operator is killed at 25% and a new one carries on.
	pause := plan.Seconds{Duration: plan.D(2 * time.Second)}
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) {
		s.Version = "v2"
		s.Rollout = &plan.RolloutSteps{Steps: []plan.WeightStep{{Weight: 5, Pause: &pause}, {Weight: 25, Pause: &pause}, {Weight: 50, Pause: &pause}, {Weight: 100}}}
	})
	w.waitFor(t, map[string]int{"v1": 75, "v2": 25})
	op.kill()
	op.start()
	st := waitPhase(t, c, key, 2, "Succeeded")
	w.waitFor(t, map[string]int{"v2": 100})
	if got, want := w.steps("v2"), []int{5, 25, 50, 100}; !slices.Equal(got, want) {
		t.Fatalf("v2's weights on the HTTPRoute went %v, want %v (history %v)", got, want, w.history())
	}
	if st.Weight != 100 || st.CanaryVersion != "v2" || st.StableVersion != "v1" {
		t.Fatalf("status after v2: weight %d canary %s stable %s", st.Weight, st.CanaryVersion, st.StableVersion)
	}
	gone(t, c, "shop", "v1")
	// No step was taken twice across the operator's restart.
	r := e.hugai("audit", "verify", "--target", "kubernetes", "--kubeconfig", cl.Kubeconfig, "-n", "shop", "checkout")
	if r.code != 0 {
		t.Fatalf("audit verify --target kubernetes: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// v3 is a regression: rolled back, weights back on v2.
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) { s.Version = "v3" })
	st = waitPhase(t, c, key, 3, "RolledBack")
	w.waitFor(t, map[string]int{"v2": 100})
	if got := w.steps("v3"); len(got) == 0 || got[0] != 5 || got[len(got)-1] != 0 {
		t.Fatalf("v3's weights went %v, want 5 first and 0 after the rollback (history %v)", got, w.history())
	}
	gone(t, c, "shop", "v3")

	// v4 waits for an approval. A DeploymentAction naming someone else is refused by the API
	// server itself; `hugai deploy approve --target kubernetes` approves as the kubeconfig's user.
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) {
		s.Version = "v4"
		s.Strategy.Governance = &plan.StrategyGovernance{ApprovalRequired: true}
	})
	waitPhase(t, c, key, 4, "AwaitingApproval")
	forged := &hugaiv1.DeploymentAction{ObjectMeta: metav1.ObjectMeta{Name: "forged", Namespace: "shop"},
		Spec: hugaiv1.DeploymentActionSpec{Deployment: "checkout", Action: "approve", User: "the-boss"}}
	if err := c.Create(ctx, forged); err == nil || !strings.Contains(err.Error(), "spec.user and spec.groups must be the creator") {
		t.Fatalf("a DeploymentAction naming someone else: %v, want refused by the admission policy", err)
	}
	r = e.hugai("deploy", "approve", "checkout", "--target", "kubernetes", "--kubeconfig", cl.Kubeconfig, "-n", "shop", "--comment", "looks good")
	if r.code != 0 {
		t.Fatalf("deploy approve --target kubernetes: %d %s %s", r.code, r.stdout, r.stderr)
	}
	st = waitPhase(t, c, key, 4, "Succeeded")
	if len(st.Approvals) != 1 || st.Approvals[0].Actor == "" || st.Approvals[0].Actor == "the-boss" || !strings.Contains(r.stdout, st.Approvals[0].Actor) {
		t.Fatalf("approvals in the status: %+v (approve said %q)", st.Approvals, r.stdout)
	}
	t.Logf("approved by %s", st.Approvals[0].Actor)
	r = e.hugai("deploy", "status", "checkout", "--target", "kubernetes", "--kubeconfig", cl.Kubeconfig, "-n", "shop", "-o", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"phase": "Succeeded"`) {
		t.Fatalf("deploy status --target kubernetes: %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A spec edited mid-rollout: v5 is aborted where it stands, and v6 starts from step 1 as a
	// rollout of its own (its evidence never mixed with v5's).
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) { s.Version = "v5"; s.Strategy.Governance = nil })
	w.waitFor(t, map[string]int{"v4": 95, "v5": 5})
	// An edit hugai refuses (no version) is said in Ready, and v5 goes on being judged meanwhile.
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) { s.Version = "" })
	eventually.True(t, 30*time.Second, "Ready=False InvalidSpec", func() bool {
		var hd hugaiv1.HugAIDeployment
		if err := c.Get(ctx, key, &hd); err != nil {
			return false
		}
		for _, cond := range hd.Status.Conditions {
			if cond.Type == "Ready" && cond.Reason == "InvalidSpec" && cond.ObservedGeneration == hd.Generation {
				return true
			}
		}
		return false
	})
	// …and stays said while v5's commits go on (not put back to Ready=True by each of them, and
	// said again, with a Warning Event, at the next look).
	eventually.True(t, 30*time.Second, "v5 on to 25% after the refused edit", func() bool {
		var hd hugaiv1.HugAIDeployment
		if err := c.Get(ctx, key, &hd); err == nil {
			if cond := meta.FindStatusCondition(hd.Status.Conditions, "Ready"); cond == nil || cond.Reason != "InvalidSpec" {
				t.Fatalf("the refused edit is no longer said while v5 goes on: Ready %+v", cond)
			}
		}
		return slices.Contains(w.steps("v5"), 25)
	})
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) { s.Version = "v6" })
	st = waitPhase(t, c, key, 7, "Succeeded")
	if got := w.steps("v6"); !slices.Equal(got, []int{5, 25, 50, 100}) {
		t.Fatalf("v6's weights went %v, want the whole walk from 5 (history %v)", got, w.history())
	}
	var v5 *hugaiv1.RolloutSummary
	for i := range st.History {
		if st.History[i].Version == "v5" {
			v5 = &st.History[i]
		}
	}
	if v5 == nil || v5.Phase != "Aborted" {
		t.Fatalf("v5 in the history: %+v", st.History)
	}

	// kubectl reads like `kubectl argo rollouts list`; steps are counted as Argo counts them (a weight
	// and its pause are two), 7 for the seed's four.
	out, err := exec.Command(filepath.Join(kubetest.Assets(t), "kubectl"), "--kubeconfig", cl.Kubeconfig, "get", "hugaideployments", "-n", "shop").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get: %v\n%s", err, out)
	}
	for _, col := range []string{"STRATEGY", "PHASE", "STEP", "WEIGHT", "AGE", "Succeeded", "7/7", "100"} {
		if !strings.Contains(string(out), col) {
			t.Fatalf("kubectl get hugaideployments lacks %q:\n%s", col, out)
		}
	}
	r = e.hugai("audit", "verify", "--target", "kubernetes", "--kubeconfig", cl.Kubeconfig, "-n", "shop", "checkout")
	if r.code != 0 {
		t.Fatalf("audit verify --target kubernetes at the end: %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Each transition is a Kubernetes Event on the HugAIDeployment (events.k8s.io, as kubectl
	// describe shows them).
	var events eventsv1.EventList
	if err := c.List(ctx, &events, client.InNamespace("shop")); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, ev := range events.Items {
		if ev.Regarding.Kind == "HugAIDeployment" && ev.Regarding.Name == "checkout" {
			reasons[ev.Reason]++
		}
	}
	for _, want := range []string{"Progressing", "Succeeded", "RolledBack", "AwaitingApproval", "Aborted", "ActionDone", "StepCompleted"} {
		if reasons[want] == 0 {
			t.Errorf("no %s Event on the HugAIDeployment (seen %v)", want, reasons)
		}
	}
	t.Logf("Events: %v; HTTPRoute weights seen: %v", reasons, w.history())
}

// waitPhase waits until the HugAIDeployment's rollout for generation gen is in phase.
func waitPhase(t *testing.T, c client.Client, key types.NamespacedName, gen int64, phase string) hugaiv1.RolloutStatus {
	t.Helper()
	var hd hugaiv1.HugAIDeployment
	defer func() {
		if t.Failed() {
			st := hd.Status
			st.Rollout, st.Audit = nil, nil
			t.Logf("status of %s: %+v", key, st)
		}
	}()
	eventually.True(t, 60*time.Second, fmt.Sprintf("%s generation %d %s", key, gen, phase), func() bool {
		if err := c.Get(context.Background(), key, &hd); err != nil {
			return false
		}
		return hd.Status.ObservedGeneration == gen && hd.Status.Phase == phase
	})
	return hd.Status
}

// editSpec changes the HugAIDeployment's spec as a user would (kubectl edit), retrying on a
// conflict with the operator's status writes.
func editSpec(t *testing.T, c client.Client, key types.NamespacedName, edit func(*plan.HugAIDeploymentSpec)) {
	t.Helper()
	eventually.True(t, 10*time.Second, "edit "+key.String(), func() bool {
		var hd hugaiv1.HugAIDeployment
		if err := c.Get(context.Background(), key, &hd); err != nil {
			return false
		}
		edit(&hd.Spec)
		return c.Update(context.Background(), &hd) == nil
	})
}

// applyFile creates every object of a YAML file.
func applyFile(t *testing.T, c client.Client, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := kubetest.Apply(context.Background(), c, data); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// daemon is a long-running hugai process a scenario starts, kills and starts again (the operator):
// each run's output goes to <name>-<n>.log in dir, shown when the test fails; the one running when
// the test ends is stopped with SIGTERM.
type daemon struct {
	tb   testing.TB
	dir  string
	name string
	args []string
	n    int
	cmd  *exec.Cmd
	done chan struct{}
}

func startDaemon(tb testing.TB, dir, name string, args ...string) *daemon {
	tb.Helper()
	d := &daemon{tb: tb, dir: dir, name: name, args: args}
	d.start()
	tb.Cleanup(func() {
		if d.cmd != nil {
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(20 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.done
			}
		}
		if tb.Failed() {
			for i := 1; i <= d.n; i++ {
				b, _ := os.ReadFile(d.log(i))
				tb.Logf("%s log %d:\n%s", name, i, b)
			}
		}
	})
	return d
}

func (d *daemon) log(i int) string { return filepath.Join(d.dir, fmt.Sprintf("%s-%d.log", d.name, i)) }

func (d *daemon) start() {
	d.tb.Helper()
	d.n++
	logf, err := os.Create(d.log(d.n))
	if err != nil {
		d.tb.Fatal(err)
	}
	cmd := exec.Command(built.hugai, d.args...)
	cmd.Dir = d.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		d.tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	d.cmd, d.done = cmd, done
}

// kill kills the process with SIGKILL, as a lost node would, and waits until it is gone.
func (d *daemon) kill() {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
	d.cmd = nil
}

// planRefPlanYAML is the seed's DeploymentPlan (k8s/hugai-deployment.yaml) fitted to the test's
// service: in its namespace, with pauses of seconds, the analysis on the metric the test serves
// (the seed's templates measure success rate and latency, which this service file has no
// provider for), and its governance without the production approval nobody here can give.
const planRefPlanYAML = `apiVersion: hugai.io/v1
kind: DeploymentPlan
metadata:
  name: checkout-plan
  namespace: shop
spec:
  strategy:
    type: canary
    canary:
      steps:
      - setWeight: 5
        pause:
          duration: %[1]s
      - setWeight: 25
        pause:
          duration: %[1]s
      - setWeight: 50
        pause:
          duration: %[1]s
      - setWeight: 100
      analysis:
        templates:
        - templateName: checkout-errors
          args:
          - name: service-name
            value: checkout
      scaleDownDelaySeconds: 1
  analysisTemplates:
  - name: checkout-errors
    metrics:
    - name: errors
      successCondition: checkout_errors<1
  governance:
    checkpoints:
    - name: business-validation
      required: false
      automated: false
`

// TestOperatorPlanRef runs HugAIDeployments that name a DeploymentPlan (spec.planRef) through
// `hugai operator` against a real API server: the API server refuses a planRef beside a strategy
// of the object's own; a missing plan is PlanMissing until it is created, then the rollout runs;
// the plan's steps are walked to Succeeded; an edit of the plan mid-rollout aborts the rollout
// and starts a new one at step 1, the aborted one kept in the history; an edit while nothing is in
// flight starts nothing.
func TestOperatorPlanRef(t *testing.T) {
	scenarios <- struct{}{}
	t.Cleanup(func() { <-scenarios })
	cl := operatorShop(t, "")
	c := cl.Client
	ctx := context.Background()

	// The API server itself refuses a planRef beside a strategy, and neither.
	both := &hugaiv1.HugAIDeployment{ObjectMeta: metav1.ObjectMeta{Name: "both", Namespace: "shop"},
		Spec: plan.HugAIDeploymentSpec{Version: "v1", PlanRef: &plan.PlanRef{Name: "checkout-plan"}, Strategy: plan.Strategy{Type: "canary"}}}
	if err := c.Create(ctx, both); err == nil || !strings.Contains(err.Error(), "spec.planRef: the DeploymentPlan supplies strategy") {
		t.Fatalf("planRef and strategy: %v, want refused by the API server", err)
	}
	neither := &hugaiv1.HugAIDeployment{ObjectMeta: metav1.ObjectMeta{Name: "neither", Namespace: "shop"}, Spec: plan.HugAIDeploymentSpec{Version: "v1"}}
	if err := c.Create(ctx, neither); err == nil || !strings.Contains(err.Error(), "set spec.strategy, or spec.planRef") {
		t.Fatalf("neither planRef nor strategy: %v, want refused by the API server", err)
	}

	dir := t.TempDir()
	startDaemon(t, dir, "operator", "operator", "--kubeconfig", cl.Kubeconfig, "--leader-election-namespace", "shop", "--health-addr", "0", "--tick", "1s")
	w := watchRoute(t, c, "shop", "checkout")
	key := types.NamespacedName{Namespace: "shop", Name: "checkout"}

	// Naming a plan that does not exist yet: PlanMissing, then the rollout once it is created.
	hd := &hugaiv1.HugAIDeployment{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"},
		Spec: plan.HugAIDeploymentSpec{Service: "checkout", Version: "v1", Environment: "production", PlanRef: &plan.PlanRef{Name: "checkout-plan"}}}
	if err := c.Create(ctx, hd); err != nil {
		t.Fatal(err)
	}
	waitReady(t, c, key, "PlanMissing")
	applyYAML(t, c, fmt.Sprintf(planRefPlanYAML, "2s"))
	waitPhase(t, c, key, 1, "Succeeded")
	w.waitFor(t, map[string]int{"v1": 100})

	// v2 walks the plan's steps.
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) { s.Version = "v2" })
	st := waitPhase(t, c, key, 2, "Succeeded")
	if got, want := w.steps("v2"), []int{5, 25, 50, 100}; !slices.Equal(got, want) {
		t.Fatalf("v2's weights on the HTTPRoute went %v, want %v (history %v)", got, want, w.history())
	}
	if st.Rollout == nil || !strings.Contains(st.Rollout.Plan, "hugai.io/plan: checkout-plan") || !strings.Contains(st.Rollout.Plan, "hugai.io/plan-generation:") {
		t.Fatalf("the frozen plan does not say where it came from:\n%v", st.Rollout)
	}

	// An edit of the plan while nothing is in flight starts nothing.
	seq := st.RolloutSequence
	editPlan(t, c, types.NamespacedName{Namespace: "shop", Name: "checkout-plan"}, func(p *plan.PlanSpec) { p.Strategy.Canary.ScaleDownDelaySeconds = 2 })
	time.Sleep(3 * time.Second)
	if got := getHD(t, c, key).Status; got.RolloutSequence != seq || got.Phase != "Succeeded" {
		t.Fatalf("an edit of the plan with no rollout in flight started one: sequence %d → %d, phase %s", seq, got.RolloutSequence, got.Phase)
	}

	// v3 is at 25% when the plan is edited: that rollout is aborted and a new one of v3 starts at
	// step 1 with the new plan.
	editSpec(t, c, key, func(s *plan.HugAIDeploymentSpec) { s.Version = "v3" })
	w.waitFor(t, map[string]int{"v2": 75, "v3": 25})
	firstRec := getHD(t, c, key).Status.Rollout
	first := firstRec.ID
	editPlan(t, c, types.NamespacedName{Namespace: "shop", Name: "checkout-plan"}, func(p *plan.PlanSpec) {
		for i := range p.Strategy.Canary.Steps {
			if p.Strategy.Canary.Steps[i].Pause != nil {
				p.Strategy.Canary.Steps[i].Pause = &plan.Pause{Duration: &plan.Seconds{Duration: plan.D(time.Second)}}
			}
		}
	})
	st = waitPhase(t, c, key, 3, "Succeeded")
	if st.Rollout.ID == first {
		t.Fatalf("the edit of the plan did not start a new rollout (%s)", first)
	}
	var aborted *hugaiv1.RolloutSummary
	for i := range st.History {
		if st.History[i].ID == first {
			aborted = &st.History[i]
		}
	}
	if aborted == nil || aborted.Phase != "Aborted" || aborted.Version != "v3" {
		t.Fatalf("%s in the history: %+v", first, st.History)
	}
	// v3 went up to 25, back to 0 with the abort, and walked the whole plan again from 5.
	if got := w.steps("v3"); len(got) < 5 || !slices.Equal(got[len(got)-4:], []int{5, 25, 50, 100}) || !slices.Contains(got[:len(got)-4], 25) {
		t.Fatalf("v3's weights went %v, want 5, 25, back, then 5, 25, 50, 100 (history %v)", got, w.history())
	}
	if st.Rollout.Plan == firstRec.Plan {
		t.Fatalf("the new rollout does not run the edited plan:\n%s", st.Rollout.Plan)
	}

	var events eventsv1.EventList
	if err := c.List(ctx, &events, client.InNamespace("shop")); err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, ev := range events.Items {
		if ev.Regarding.Kind == "HugAIDeployment" && ev.Regarding.Name == "checkout" {
			reasons[ev.Reason]++
		}
	}
	for _, want := range []string{"PlanMissing", "Aborted", "Succeeded"} {
		if reasons[want] == 0 {
			t.Errorf("no %s Event on the HugAIDeployment (seen %v)", want, reasons)
		}
	}
}

// waitReady waits until the HugAIDeployment's Ready condition is False for reason, at its
// current generation.
func waitReady(t *testing.T, c client.Client, key types.NamespacedName, reason string) {
	t.Helper()
	eventually.True(t, 30*time.Second, "Ready=False "+reason, func() bool {
		hd := getHD(t, c, key)
		for _, cond := range hd.Status.Conditions {
			if cond.Type == "Ready" && cond.Status == metav1.ConditionFalse && cond.Reason == reason && cond.ObservedGeneration == hd.Generation {
				return true
			}
		}
		return false
	})
}

func getHD(t *testing.T, c client.Client, key types.NamespacedName) hugaiv1.HugAIDeployment {
	t.Helper()
	var hd hugaiv1.HugAIDeployment
	if err := c.Get(context.Background(), key, &hd); err != nil {
		t.Fatal(err)
	}
	return hd
}

// editPlan changes a DeploymentPlan's spec as a user would.
func editPlan(t *testing.T, c client.Client, key types.NamespacedName, edit func(*plan.PlanSpec)) {
	t.Helper()
	eventually.True(t, 10*time.Second, "edit "+key.String(), func() bool {
		var dp hugaiv1.DeploymentPlan
		if err := c.Get(context.Background(), key, &dp); err != nil {
			return false
		}
		edit(&dp.Spec)
		return c.Update(context.Background(), &dp) == nil
	})
}

// applyYAML creates every object of a YAML text.
func applyYAML(t *testing.T, c client.Client, text string) {
	t.Helper()
	if err := kubetest.Apply(context.Background(), c, []byte(text)); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
}
