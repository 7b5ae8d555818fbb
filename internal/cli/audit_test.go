package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

// seedDataDir makes a data dir whose store holds n audit events, as a server would leave it.
func seedDataDir(t *testing.T, n int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), ".hugai")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	c, err := s.Commit(ctx, store.Tx{
		Rollout: &store.Rollout{Service: "demo", Environment: "production", Version: "v2", Phase: "Pending"},
		Events:  []audit.Event{{Type: "rollout.created", Actor: "alice", Payload: json.RawMessage(`{"version":"v2"}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= n; i++ {
		_, err := s.Commit(ctx, store.Tx{Events: []audit.Event{{Subject: "rollout/" + c.RolloutID,
			Type: "rollout.step", Actor: "engine", Payload: json.RawMessage(fmt.Sprintf(`{"step":%d}`, i))}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// runAudit runs `hugai audit args...` and returns stdout and the exit code Main would give.
func runAudit(t *testing.T, args ...string) (string, int, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := &app{out: &out, errOut: &errOut}
	c := a.auditCmd()
	c.SetArgs(args)
	c.SetOut(&out)
	c.SetErr(&errOut)
	err := c.ExecuteContext(context.Background())
	code := ExitOK
	var ee *exitError
	switch {
	case errors.As(err, &ee):
		code = ee.code
	case err != nil:
		code = ExitFailed
	}
	return out.String(), code, err
}

func tamper(t *testing.T, dir, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

func TestAuditVerify(t *testing.T) {
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"edited", `UPDATE audit_events SET payload = '{"step":1000}' WHERE seq = 4`, "audit verify: event 4: hash mismatch (edited)"},
		{"deleted", `DELETE FROM audit_events WHERE seq = 3`, "audit verify: event 4: broken link (deleted or reordered)"},
		{"truncated", `DELETE FROM audit_events WHERE seq >= 5`, "audit verify: event 5: head mismatch (truncated)"},
		{"head edited", `UPDATE audit_head SET hash = 'ff' WHERE id = 1`, "audit verify: event 6: head mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := seedDataDir(t, 6)
			out, code, err := runAudit(t, "verify", "--data-dir", dir)
			if code != ExitOK || err != nil {
				t.Fatalf("clean log: exit %d, %v", code, err)
			}
			if !strings.HasPrefix(out, "audit log verified: 6 events, head ") || len(strings.TrimSpace(out)) != 35+64 {
				t.Fatalf("clean log printed %q", out)
			}
			tamper(t, dir, tc.sql)
			_, code, err = runAudit(t, "verify", "--data-dir", dir)
			if code != ExitFailed || err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("tampered log: exit %d, %v; want exit 1 and %q", code, err, tc.want)
			}
		})
	}
}

func TestAuditLogAndExport(t *testing.T) {
	dir := seedDataDir(t, 5)
	out, code, err := runAudit(t, "log", "--data-dir", dir, "--after", "1", "--limit", "2", "-o", "json")
	if code != ExitOK {
		t.Fatalf("log: exit %d, %v", code, err)
	}
	var events []audit.Event
	if err := json.Unmarshal([]byte(out), &events); err != nil {
		t.Fatalf("log -o json: %v\n%s", err, out)
	}
	if len(events) != 2 || events[0].Seq != 2 || events[1].Seq != 3 || audit.Sum(audit.Normalize(events[0])) != events[0].Hash {
		t.Fatalf("log --after 1 --limit 2 = %+v", events)
	}
	out, _, _ = runAudit(t, "log", "--data-dir", dir, "--subject", "rollout/demo-1")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 6 || !strings.HasPrefix(lines[0], "SEQ") {
		t.Fatalf("log table:\n%s", out)
	}

	// The JSON-lines export verifies on its own, outside the store.
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if _, code, err := runAudit(t, "export", "--data-dir", dir, "--out", path); code != ExitOK {
		t.Fatalf("export: exit %d, %v", code, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v := audit.NewVerifier()
	var last audit.Event
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if err := json.Unmarshal([]byte(line), &last); err != nil {
			t.Fatal(err)
		}
		if err := v.Add(last); err != nil {
			t.Fatalf("exported event does not verify: %v", err)
		}
	}
	if n, _, err := v.Finish(audit.Head{Seq: last.Seq, Hash: last.Hash}); err != nil || n != 5 {
		t.Fatalf("export verified %d events: %v", n, err)
	}

	out, code, err = runAudit(t, "export", "--data-dir", dir, "--format", "csv")
	if code != ExitOK {
		t.Fatalf("export csv: exit %d, %v", code, err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 6 || rows[0][0] != "seq" || rows[3][0] != "3" || rows[3][5] != `{"step":3}` || rows[5][7] != last.Hash {
		t.Fatalf("csv export:\n%s", out)
	}
	if _, code, _ := runAudit(t, "export", "--data-dir", dir, "--format", "xml"); code != ExitBadInput {
		t.Fatalf("--format xml: exit %d, want %d", code, ExitBadInput)
	}
}

func TestAuditWithoutStore(t *testing.T) {
	empty := t.TempDir()
	_, code, err := runAudit(t, "verify", "--data-dir", empty)
	if code != ExitFailed || err == nil || !strings.Contains(err.Error(), "hugai server") {
		t.Fatalf("no store: exit %d, %v", code, err)
	}
	if _, err := os.Stat(filepath.Join(empty, DatabaseFile)); err == nil {
		t.Fatal("verify created a store")
	}
}

func TestFindDataDir(t *testing.T) {
	root := t.TempDir()
	data := filepath.Join(root, ".hugai")
	deep := filepath.Join(root, "a", "b")
	for _, d := range []string{data, deep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, flag, env, wd, want string
	}{
		{"flag wins", "/x/flag", "/x/env", deep, "/x/flag"},
		{"env next", "", "/x/env", deep, "/x/env"},
		{"relative flag", "rel", "", deep, filepath.Join(deep, "rel")},
		{"walk up", "", "", deep, data},
		{"in place", "", "", root, data},
	} {
		got, err := findDataDirFrom(tc.flag, tc.env, tc.wd)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	// A .hugai file (not a directory) is not a data dir.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, ".hugai"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := findDataDirFrom("", "", other); err == nil || !strings.Contains(err.Error(), "hugai server") {
		t.Errorf("no data dir: err = %v, want one saying how to start a server", err)
	}
}

// The local verify refuses what only --target kubernetes takes, and an unknown target.
func TestAuditVerifyTargetFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"audit", "verify", "checkout"},
		{"audit", "verify", "--all"},
		{"audit", "verify", "--target", "nomad", "checkout"},
		{"audit", "verify", "--target", "kubernetes", "--statement", "s.json", "checkout"},
		{"audit", "verify", "--target", "kubernetes"},
	} {
		if code, _, errOut := run(t, args...); code != ExitBadInput {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, ExitBadInput, errOut)
		}
	}
}
