// Package change describes what a release changes — its commits and files — and
// classifies each file (migration, config, dependency, …) so risk can be judged
// from the change itself. It is part of the pure core: no I/O, no clock.
package change

import (
	"path"
	"sort"
	"time"
)

// Set is the change between two refs of a repository.
type Set struct {
	From, To         string // refs as given ("" From: from the root)
	FromHash, ToHash string // resolved commit hashes ("" FromHash: from the root)
	Commits          []Commit
	Files            []File // one entry per file, aggregated across commits, sorted by Path
}

// Commit is one commit of a Set.
type Commit struct {
	Hash, Author, Email string
	Time                time.Time // author time
	Subject             string
	// Parents and Body are read only when asked for (release notes need them; risk does not).
	Parents []string
	Body    string
}

// File is one file changed by a Set, aggregated across its commits.
type File struct {
	Path    string // path at the To side
	OldPath string // path at the From side when the file was renamed, else ""
	Added   int
	Deleted int
	Binary  bool // git reported no line counts ("-\t-")
	Commits int  // commits of the Set that touched the file
	Class   Class
}

// Lines is the number of lines added and deleted.
func (f File) Lines() int { return f.Added + f.Deleted }

// Dir is the directory of the file ("." for the repository root).
func (f File) Dir() string { return path.Dir(f.Path) }

// Totals sums a Set.
type Totals struct {
	Commits, Files, Added, Deleted, Binary int
}

// Lines is the number of lines added and deleted.
func (t Totals) Lines() int { return t.Added + t.Deleted }

// Totals counts commits, files and lines of the Set.
func (s *Set) Totals() Totals {
	if s == nil {
		return Totals{}
	}
	t := Totals{Commits: len(s.Commits), Files: len(s.Files)}
	for _, f := range s.Files {
		t.Added += f.Added
		t.Deleted += f.Deleted
		if f.Binary {
			t.Binary++
		}
	}
	return t
}

// Dirs returns the distinct directories of the changed files, sorted.
func (s *Set) Dirs() []string {
	if s == nil {
		return nil
	}
	seen := make(map[string]struct{}, len(s.Files))
	for _, f := range s.Files {
		seen[f.Dir()] = struct{}{}
	}
	return sortedKeys(seen)
}

// Subsystems returns the distinct top-level directories of the changed files,
// sorted ("." for files at the root) — the "subsystems" of Mockus & Weiss.
func (s *Set) Subsystems() []string {
	if s == nil {
		return nil
	}
	seen := make(map[string]struct{}, len(s.Files))
	for _, f := range s.Files {
		seen[topDir(f.Path)] = struct{}{}
	}
	return sortedKeys(seen)
}

// ByClass returns the files of one class, in path order.
func (s *Set) ByClass(c Class) []File {
	if s == nil {
		return nil
	}
	var out []File
	for _, f := range s.Files {
		if f.Class == c {
			out = append(out, f)
		}
	}
	return out
}

// ClassCounts counts the files of each class.
func (s *Set) ClassCounts() map[Class]int {
	out := make(map[Class]int)
	if s == nil {
		return out
	}
	for _, f := range s.Files {
		out[f.Class]++
	}
	return out
}

// Classify sets each file's Class from its path and sorts the files by path,
// so a Set built by an adapter is ready for risk assessment.
func (s *Set) Classify() {
	for i := range s.Files {
		s.Files[i].Class = Classify(s.Files[i].Path)
	}
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
}

func topDir(p string) string {
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "."
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
