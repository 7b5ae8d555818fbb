package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/attest"
	"github.com/hugai-dev/hugai/internal/rollout"
	"github.com/hugai-dev/hugai/internal/server/servertest"
	"github.com/hugai-dev/hugai/internal/store"
)

// A finished rollout's statement, signed with the data dir's key, verifies against the key and
// the store; an edited one, one signed by another key, or one whose audit event was tampered
// with, does not.
func TestStatementSignAndVerify(t *testing.T) {
	h := servertest.NewHarness(t, "")
	r := h.Begin("dan", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v1", RequireApproval: true})
	h.WaitFor(r.ID, "the gate", servertest.Phase("AwaitingApproval"))
	h.Do(r.ID, "ann", api.Command{Kind: rollout.CommandApprove, Comment: "fine"})
	finish(t, h, r.ID)

	dir := filepath.Dir(h.Socket()) // the harness's data dir
	if _, err := os.Stat(filepath.Join(dir, DatabaseFile)); err != nil {
		t.Skipf("the harness keeps no store at %s", dir)
	}
	key, err := signingKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := signingKey(dir); err != nil || !again.Equal(key) {
		t.Fatalf("the key is made again: %v", err)
	}
	if err := writeStatement(context.Background(), dir, key, h.Engine, h.Store, r.ID); err != nil {
		t.Fatal(err)
	}
	file := statementPath(dir, r.ID)
	out, code, err := runAudit(t, "verify", "--statement", file, "--data-dir", dir)
	if err != nil || code != 0 || !strings.Contains(out, "statement verified (signature, plan and audit chain): rollout "+r.ID) ||
		!strings.Contains(out, "started by dan; four-eyes false; approvals: [ann (approved)]") {
		t.Fatalf("verify: %d %v\n%s", code, err, out)
	}
	evs, _ := h.Store.Events(context.Background(), store.EventFilter{Subject: "rollout/" + r.ID})
	if last := evs[len(evs)-1]; last.Type != "rollout.attested" || !strings.Contains(string(last.Payload), `"sha256"`) {
		t.Fatalf("the statement is not recorded in the audit: %+v", last)
	}

	// An approver edited in: the signature no longer holds.
	b, _ := os.ReadFile(file)
	env, _ := attest.ParseEnvelope(b)
	payload, _ := base64.StdEncoding.DecodeString(env.Payload)
	env.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"actor":"ann"`, `"actor":"eve"`, 1)))
	forged := filepath.Join(t.TempDir(), "forged.json")
	fb, _ := json.Marshal(env)
	os.WriteFile(forged, fb, 0o644)
	if out, code, err := runAudit(t, "verify", "--statement", forged, "--data-dir", dir); code != ExitFailed || err == nil || !strings.Contains(err.Error(), "no valid signature") {
		t.Fatalf("a forged statement: %d %v %s", code, err, out)
	}
	// Signed by another key: the data dir's key refuses it; its own key accepts its signature but
	// the store says the plan differs.
	other := filepath.Join(t.TempDir(), "other")
	otherKey, _ := signingKey(other)
	s, _ := h.Engine.Statement(context.Background(), r.ID)
	s.Predicate.PlanSHA256, s.Subject[0].Digest["sha256"] = strings.Repeat("0", 64), strings.Repeat("0", 64)
	env2, _ := attest.Sign(s, otherKey)
	b2, _ := json.Marshal(env2)
	os.WriteFile(forged, b2, 0o644)
	if _, code, err := runAudit(t, "verify", "--statement", forged, "--data-dir", dir); code != ExitFailed || !strings.Contains(err.Error(), "no valid signature") {
		t.Fatalf("another key's statement: %d %v", code, err)
	}
	if _, code, err := runAudit(t, "verify", "--statement", forged, "--data-dir", dir, "--key", filepath.Join(other, attestKeyDir, attestPublicKey)); code != ExitFailed || !strings.Contains(err.Error(), "the statement says "+strings.Repeat("0", 64)) {
		t.Fatalf("a statement of another plan: %d %v", code, err)
	}
}

// finish moves the harness's clock on until the rollout has ended.
func finish(t *testing.T, h *servertest.Harness, id string) api.Rollout {
	t.Helper()
	for range 600 {
		v, err := h.Engine.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Terminal {
			return v
		}
		h.Clock.Add(5 * time.Second)
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("rollout %s never ended", id)
	return api.Rollout{}
}

func TestFinishedRolloutsAreAttested(t *testing.T) {
	// The server's hook: the engine calls it once per finished rollout.
	h := servertest.NewHarness(t, "")
	r := h.Begin("dan", api.StartRequest{Plan: []byte(servertest.Plan("", "staging")), Version: "v1"})
	h.Do(r.ID, "dan", api.Command{Kind: rollout.CommandAbort})
	v := h.WaitFor(r.ID, "the abort", func(v api.Rollout) bool { return v.Terminal })
	s, err := h.Engine.Statement(context.Background(), r.ID)
	if err != nil || s.Predicate.Phase != v.Phase || s.Predicate.Audit.LastHash == "" || s.Subject[0].Digest["sha256"] != v.PlanSHA256 {
		t.Fatalf("statement %+v %v", s, err)
	}
	running := h.Begin("dan", api.StartRequest{Plan: []byte(servertest.Plan("", "production")), Version: "v1", RequireApproval: true})
	if _, err := h.Engine.Statement(context.Background(), running.ID); err == nil {
		t.Fatal("a running rollout got a statement")
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"2026-11-30T08:00:00Z": time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		"2026-11-30":           time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC),
		"24h":                  now.Add(-24 * time.Hour),
		"7d":                   now.Add(-7 * 24 * time.Hour),
	} {
		if got, err := parseSince(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "-1h", "2026-13-01"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q) accepted", bad)
		}
	}
}

func TestAuditExportSince(t *testing.T) {
	dir := seedDataDir(t, 3)
	all, code, err := runAudit(t, "export", "--data-dir", dir)
	if err != nil || code != 0 || strings.Count(all, "\n") != 3 {
		t.Fatalf("export: %d %v %q", code, err, all)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	none, code, err := runAudit(t, "export", "--data-dir", dir, "--since", future)
	if err != nil || code != 0 || none != "" {
		t.Fatalf("export --since the future: %d %v %q", code, err, none)
	}
	recent, _, err := runAudit(t, "export", "--data-dir", dir, "--since", "1h", "--format", "csv")
	if err != nil || strings.Count(recent, "\n") != 4 {
		t.Fatalf("export --since 1h: %v %q", err, recent)
	}
	if _, code, _ := runAudit(t, "export", "--data-dir", dir, "--since", "soon"); code != ExitBadInput {
		t.Fatalf("a bad --since: %d", code)
	}
}
