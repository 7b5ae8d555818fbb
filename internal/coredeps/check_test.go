package coredeps

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The checker must be able to fail: a package breaking each rule once is reported at each place,
// and nothing else is (test files included).
func TestCheckSourceReportsEveryViolation(t *testing.T) {
	vs, err := CheckSource(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, filepath.Base(v.Pos.Filename)+":"+strconv.Itoa(v.Pos.Line)+": "+v.Msg)
	}
	want := []string{
		"bad.go:5: imports net/url",
		"bad.go:6: imports os:",
		"bad.go:7: imports os/exec",
		"bad.go:16: time.Now reads the wall clock",
		"bad.go:18: time.Sleep reads the wall clock",
		"bad.go:20: time.Since reads the wall clock",
		"bad.go:23: go statement",
		"more.go:4: imports database/sql",
		"more.go:5: imports time with a dot",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("violation %d: got %q, want it to start with %q", i, got[i], want[i])
		}
	}
}

func TestCheckSourceAcceptsCleanPackage(t *testing.T) {
	vs, err := CheckSource(filepath.Join("testdata", "clean"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("clean package reported: %s", v)
	}
}

func TestCheckSourceMissingPackageIsAnError(t *testing.T) {
	if _, err := CheckSource(filepath.Join("testdata", "renamed")); err == nil {
		t.Fatal("a missing package passed")
	}
	empty := t.TempDir()
	if _, err := CheckSource(empty); err == nil || !strings.Contains(err.Error(), "missing or was renamed") {
		t.Fatalf("a package with no source: %v", err)
	}
}
