package git

import (
	"context"
	"reflect"
	"testing"
)

// TestLogMessagesAndPaths: with Messages, each commit carries its parents and its whole body
// (a merge has two parents, a commit with no body an empty one); with Paths, only the commits
// and files under them are read.
func TestLogMessagesAndPaths(t *testing.T) {
	r := newRepo(t)
	r.write("README", "x\n")
	r.commit("chore: init")
	r.git("tag", "v1.0.0")
	r.write("services/api/main.go", "package main\n")
	api := r.commit("feat(api): add endpoint\n\nLonger text.\n\nBREAKING CHANGE: v1 is gone\nRefs #12")
	r.git("checkout", "-q", "-b", "side")
	r.write("services/web/index.html", "<p>\n")
	r.commit("fix(web): page")
	r.git("checkout", "-q", "main")
	r.write("services/api/util.go", "package main\n")
	r.commit("perf(api): faster")
	r.git("merge", "-q", "--no-ff", "-m", "Merge branch 'side'", "side")

	all, err := Log(context.Background(), r.dir, Query{From: "v1.0.0", Messages: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Commits) != 4 {
		t.Fatalf("commits = %d, want 4", len(all.Commits))
	}
	if m := all.Commits[0]; m.Subject != "Merge branch 'side'" || len(m.Parents) != 2 || m.Body != "" {
		t.Errorf("merge = %+v", m)
	}
	var got *struct{ body string }
	for _, c := range all.Commits {
		if c.Hash == api {
			got = &struct{ body string }{c.Body}
			if len(c.Parents) != 1 {
				t.Errorf("parents of %s = %v", c.Hash, c.Parents)
			}
		}
	}
	if got == nil || got.body != "Longer text.\n\nBREAKING CHANGE: v1 is gone\nRefs #12" {
		t.Errorf("body = %+v", got)
	}

	api2, err := Log(context.Background(), r.dir, Query{From: "v1.0.0", Paths: []string{"services/api"}, Messages: true})
	if err != nil {
		t.Fatal(err)
	}
	var subjects, files []string
	for _, c := range api2.Commits {
		subjects = append(subjects, c.Subject)
	}
	for _, f := range api2.Files {
		files = append(files, f.Path)
	}
	if !reflect.DeepEqual(subjects, []string{"perf(api): faster", "feat(api): add endpoint"}) ||
		!reflect.DeepEqual(files, []string{"services/api/main.go", "services/api/util.go"}) {
		t.Errorf("path-limited: subjects %q files %q", subjects, files)
	}

	plain, err := Changes(context.Background(), r.dir, "v1.0.0", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range plain.Commits {
		if c.Body != "" || c.Parents != nil {
			t.Errorf("Changes read a message it was not asked for: %+v", c)
		}
	}
}
