package git

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

// TestAddedLines: each added line with its commit, path and line number in the file as the
// commit left it; an added line that starts with "++" is content, not a header; deletions, merges
// and deleted files add nothing; quoted paths are unquoted.
func TestAddedLines(t *testing.T) {
	r := newRepo(t)
	r.write("a.txt", "one\ntwo\nthree\n")
	r.commit("first")
	r.git("tag", "v1")
	r.write("a.txt", "one\nTWO\nthree\n++ plus\n")
	c2 := r.commit("edit")
	r.write("dir/with space.txt", "x\n")
	r.write("gone.txt", "bye\n")
	c3 := r.commit("add")
	r.git("rm", "-q", "gone.txt")
	r.commit("remove")

	var got []string
	err := AddedLines(context.Background(), r.dir, "v1", "", nil, func(l AddedLine) error {
		h := map[string]string{c2: "c2", c3: "c3"}[l.Commit]
		got = append(got, fmt.Sprintf("%s %s:%d %s", h, l.Path, l.Line, l.Text))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"c3 dir/with space.txt:1 x", "c3 gone.txt:1 bye", "c2 a.txt:2 TWO", "c2 a.txt:4 ++ plus"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("added lines:\n%q\nwant\n%q", got, want)
	}
	got = nil
	if err := AddedLines(context.Background(), r.dir, "v1", "", []string{"dir"}, func(l AddedLine) error {
		got = append(got, l.Path)
		return nil
	}); err != nil || !reflect.DeepEqual(got, []string{"dir/with space.txt"}) {
		t.Errorf("path-limited: %q %v", got, err)
	}
	stop := fmt.Errorf("stop")
	if err := AddedLines(context.Background(), r.dir, "", "", nil, func(AddedLine) error { return stop }); err != stop {
		t.Errorf("the callback's error: %v", err)
	}
}

func TestHunkHeader(t *testing.T) {
	for _, c := range []struct {
		in           string
		old, new, at int
		ok           bool
	}{
		{"@@ -1,2 +3,4 @@ func x", 2, 4, 3, true},
		{"@@ -0,0 +1 @@", 0, 1, 1, true},
		{"@@ -5 +5,0 @@", 1, 0, 5, true},
		{"@@ x", 0, 0, 0, false},
		{"@@ -a +1 @@", 0, 0, 0, false},
	} {
		o, n, a, err := hunkHeader(c.in)
		if (err == nil) != c.ok || c.ok && (o != c.old || n != c.new || a != c.at) {
			t.Errorf("hunkHeader(%q) = %d %d %d %v", c.in, o, n, a, err)
		}
	}
}
