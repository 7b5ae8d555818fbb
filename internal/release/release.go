// Package release decides a release from the commits since the last one: the next semantic
// version from their Conventional Commit messages (release-please's rules), the release notes,
// the change and its risk, and a deployment plan (with its monitoring and rollback plans) for
// every environment of the service. It is part of the pure core: the commits, the service file
// and the time are inputs, so the same inputs give the same release.
package release

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/planner"
	"github.com/hugai-dev/hugai/internal/release/conventional"
	"github.com/hugai-dev/hugai/internal/risk"
)

// Input is everything a release is decided from.
type Input struct {
	// Component names a monorepo package ("api" for tags api/v1.2.3); "" for the repository.
	Component string
	Path      string // the path the commits were limited to ("" for all)
	// Previous is the last release's version and tag; nil for a first release.
	Previous    *Version
	PreviousTag string
	// Initial is a first release's version (release-please's default, 1.0.0, when zero).
	Initial *Version
	// Changes holds the commits since the last release, newest first, with parents and bodies,
	// and the files they change (both limited to Path).
	Changes    *change.Set
	Bump       Bump   // None: decided by the commits
	Prerelease string // "rc": make a pre-release 1.3.0-rc.N
	Forge      Forge
	Template   string // notes template ("" for DefaultTemplate)
	// Service, when given, gets a deployment plan per environment.
	Service *plan.Service
	At      time.Time // the release's time: notes date, risk's working hours
}

// Release is a decided release.
type Release struct {
	Version         string            `json:"version"`
	Tag             string            `json:"tag"`
	Component       string            `json:"component,omitempty"`
	Path            string            `json:"path,omitempty"`
	PreviousVersion string            `json:"previousVersion,omitempty"`
	PreviousTag     string            `json:"previousTag,omitempty"`
	Prerelease      bool              `json:"prerelease,omitempty"`
	Bump            string            `json:"bump"`
	Reason          string            `json:"reason"`
	CreatedAt       time.Time         `json:"createdAt"`
	Notes           string            `json:"notes"`
	NotesData       NotesData         `json:"notesData"`
	Counts          Counts            `json:"counts"`
	Changes         ChangeSet         `json:"changes"`
	Risk            plan.Risk         `json:"risk"`
	Environments    []EnvironmentPlan `json:"environments,omitempty"`
	PlansNote       string            `json:"plansNote,omitempty"`
}

// Counts says what became of the range's commits.
type Counts struct {
	Commits         int `json:"commits"`
	InNotes         int `json:"inNotes"`
	Hidden          int `json:"hidden"`          // conventional types that release nothing (chore, docs, …)
	NotConventional int `json:"notConventional"` // subjects that do not follow the format
	Merges          int `json:"merges"`
	Reverted        int `json:"reverted"` // commits reverted within the range, and their reverts
}

// ChangeSet is the change a release ships, as kept with it.
type ChangeSet struct {
	FromCommit string        `json:"fromCommit,omitempty"`
	ToCommit   string        `json:"toCommit"`
	Totals     change.Totals `json:"totals"`
	Commits    []Commit      `json:"commits"`
	Files      []File        `json:"files"`
}

// Commit is one commit of a release's change.
type Commit struct {
	Hash    string    `json:"hash"`
	Author  string    `json:"author"`
	Email   string    `json:"email,omitempty"`
	Time    time.Time `json:"time"`
	Subject string    `json:"subject"`
}

// File is one file of a release's change.
type File struct {
	Path    string `json:"path"`
	OldPath string `json:"oldPath,omitempty"`
	Added   int    `json:"added"`
	Deleted int    `json:"deleted"`
	Class   string `json:"class"`
}

// EnvironmentPlan is how the release ships to one environment: the DeploymentPlan (strategy,
// approvals, rollback and monitoring) the planner decides for it, and why.
type EnvironmentPlan struct {
	Environment string               `json:"environment"`
	Strategy    string               `json:"strategy"`
	Risk        plan.Risk            `json:"risk"`
	Approvals   int                  `json:"approvalsRequired"`
	Rollback    *plan.Rollback       `json:"rollbackPlan,omitempty"`
	Monitoring  *plan.Monitoring     `json:"monitoring,omitempty"`
	Plan        *plan.DeploymentPlan `json:"deploymentPlan"`
	Decisions   []planner.Decision   `json:"decisions"`
}

// NothingError says the range holds nothing to release: no commit calls for one.
type NothingError struct{ Reason string }

func (e *NothingError) Error() string { return "nothing to release: " + e.Reason }

// InputError is a problem with the user's input (a bad Release-As, pre-release identifier or
// template).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// parsed is one commit with what its message says.
type parsed struct {
	c   change.Commit
	msg conventional.Commit
}

// Build decides the release. A range with nothing releasable is a *NothingError.
func Build(in Input) (*Release, error) {
	if in.Changes == nil {
		return nil, errors.New("release: no change set")
	}
	if in.Prerelease != "" && !validPre(in.Prerelease) {
		return nil, &InputError{fmt.Errorf("pre-release %q: want letters, digits and '-', e.g. rc", in.Prerelease)}
	}
	tmpl, err := ParseTemplate(in.Template)
	if err != nil {
		return nil, &InputError{err}
	}
	commits, authored, counts := classify(in.Changes.Commits)

	ver, bump, reason, err := decide(in, commits)
	if err != nil {
		return nil, err
	}
	tag := TagFor(in.Component, ver)
	r := &Release{
		Version: ver.String(), Tag: tag, Component: in.Component, Path: in.Path,
		PreviousTag: in.PreviousTag, Prerelease: ver.Pre != "", Bump: bump.String(), Reason: reason,
		CreatedAt: in.At.UTC(), Counts: counts, Changes: changeSet(in.Changes),
	}
	if in.Previous != nil {
		r.PreviousVersion = in.Previous.String()
	}
	r.NotesData = notesData(in, r, commits, authored)
	r.Counts.InNotes = 0
	for _, s := range r.NotesData.Sections {
		r.Counts.InNotes += len(s.Entries)
	}
	if r.Notes, err = RenderNotes(tmpl, r.NotesData); err != nil {
		return nil, &InputError{err}
	}

	a := risk.Assess(risk.Input{Changes: in.Changes, At: in.At})
	r.Risk = planRisk(a)
	if in.Service == nil {
		r.PlansNote = "no service file: no deployment plans"
		return r, nil
	}
	for _, env := range in.Service.EnvironmentNames() {
		p, decisions, err := planner.Build(planner.Input{
			Service: in.Service, Environment: env, Version: "v" + r.Version,
			Changes: in.Changes, At: in.At, RollbackSteps: true,
		})
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", env, err)
		}
		ep := EnvironmentPlan{Environment: env, Strategy: p.Spec.Strategy.Type, Rollback: p.Spec.Rollback,
			Monitoring: p.Spec.Monitoring, Plan: p, Decisions: decisions}
		if p.Spec.Risk != nil {
			ep.Risk = *p.Spec.Risk
		}
		if g := p.Spec.Governance; g != nil {
			ep.Approvals = len(g.Approvals)
		}
		r.Environments = append(r.Environments, ep)
	}
	return r, nil
}

// TagFor names a version's tag: v1.2.3, or api/v1.2.3 for a monorepo component.
func TagFor(component string, v Version) string {
	if component == "" {
		return "v" + v.String()
	}
	return component + "/v" + v.String()
}

// TagPrefix is what a component's tags start with, before the version.
func TagPrefix(component string) string {
	if component == "" {
		return "v"
	}
	return component + "/v"
}

func validPre(s string) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" || strings.Trim(id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-") != "" || isDigits(id) {
			return false
		}
	}
	return true
}

// classify parses every message and drops what notes and versions do not count: merges (their
// commits count on their own), and commits reverted within the range together with their reverts.
// The second list is every commit but merges: whoever wrote a commit of the range is a contributor,
// whatever its message says.
func classify(cs []change.Commit) ([]*parsed, []*parsed, Counts) {
	counts := Counts{Commits: len(cs)}
	all := make([]parsed, 0, len(cs))
	for _, c := range cs {
		all = append(all, parsed{c: c, msg: conventional.Parse(c.Subject, c.Body)})
	}
	dropped := make(map[int]bool)
	var index map[string]int // full hash -> position, built at the first revert
	for i := range all {
		rv := all[i].msg.Revert
		if rv == nil || rv.Hash == "" {
			continue
		}
		if index == nil {
			index = make(map[string]int, len(all))
			for k := range all {
				index[all[k].c.Hash] = k
			}
		}
		// Commits are newest first: the reverted commit comes after its revert.
		j, ok := index[rv.Hash]
		if !ok && len(rv.Hash) < 40 {
			for k := i + 1; k < len(all); k++ {
				if strings.HasPrefix(all[k].c.Hash, rv.Hash) {
					j, ok = k, true
					break
				}
			}
		}
		if ok && j > i && !dropped[j] && !dropped[i] {
			dropped[i], dropped[j] = true, true
			counts.Reverted += 2
		}
	}
	// Pointers into all: a parsed commit is a few hundred bytes, and 10,000 of them are copied
	// twice otherwise.
	out := make([]*parsed, 0, len(all))
	authored := make([]*parsed, 0, len(all))
	for i := range all {
		p := &all[i]
		if len(p.c.Parents) <= 1 && !p.msg.Merge {
			authored = append(authored, p)
		}
		switch {
		case dropped[i]:
		case len(p.c.Parents) > 1 || p.msg.Merge:
			counts.Merges++
		case !p.msg.Conventional:
			counts.NotConventional++
			if p.msg.ReleaseAs != "" {
				out = append(out, p)
			}
		case !p.msg.Releasable():
			counts.Hidden++
			out = append(out, p) // kept for contributors and Release-As; not in the notes
		default:
			out = append(out, p)
		}
	}
	return out, authored, counts
}

// decide picks the version: a Release-As footer wins (the newest), then --bump, then the
// largest change a commit asks for.
func decide(in Input, commits []*parsed) (Version, Bump, string, error) {
	for _, p := range commits {
		if p.msg.ReleaseAs == "" {
			continue
		}
		v, err := ParseVersion(p.msg.ReleaseAs)
		if err != nil {
			return Version{}, None, "", &InputError{fmt.Errorf("commit %s: Release-As: %w", shortHash(p.c.Hash), err)}
		}
		if in.Previous != nil && v.Compare(*in.Previous) <= 0 {
			return Version{}, None, "", &InputError{fmt.Errorf("commit %s: Release-As %s is not after the last release %s", shortHash(p.c.Hash), v, in.Previous)}
		}
		return v, None, fmt.Sprintf("Release-As: %s in commit %s", v, shortHash(p.c.Hash)), nil
	}
	bump, reason := in.Bump, ""
	if bump != None {
		reason = "--bump " + bump.String()
	} else {
		var why string
		for i := len(commits) - 1; i >= 0; i-- { // oldest first: the first to ask for the largest names it
			p := commits[i]
			if !p.msg.InNotes() {
				continue
			}
			b, w := Patch, p.msg.Type
			switch {
			case p.msg.Breaking:
				b, w = Major, "a breaking change"
			case p.msg.Type == "feat" || p.msg.Type == "feature":
				b, w = Minor, "a feature"
			default:
				w = "a " + p.msg.Type + " commit"
			}
			if b > bump {
				bump, why = b, fmt.Sprintf("%s (%s)", w, shortHash(p.c.Hash))
			}
		}
		if bump == None {
			return Version{}, None, "", &NothingError{Reason: nothingReason(in, commits)}
		}
		reason = why
	}
	if in.Previous == nil {
		v := Version{Major: 1}
		if in.Initial != nil {
			v = *in.Initial
		}
		if in.Prerelease != "" && v.Pre == "" {
			v.Pre = in.Prerelease + ".1"
		}
		return v, bump, "first release; " + reason, nil
	}
	v := next(*in.Previous, bump, in.Prerelease)
	if in.Previous.Major == 0 && bump == Major {
		reason += "; below 1.0.0 a breaking change moves the minor version"
	}
	return v, bump, reason, nil
}

func nothingReason(in Input, commits []*parsed) string {
	since := "since " + in.PreviousTag
	if in.PreviousTag == "" {
		since = "in the history"
	}
	if in.Path != "" {
		since += " under " + in.Path
	}
	if len(in.Changes.Commits) == 0 {
		return "no commits " + since
	}
	return fmt.Sprintf("none of the %d commits %s calls for a release (no feat, fix, perf, revert or breaking change; "+
		"chore, docs, style, refactor, test, build, ci and types of your own do not, nor do commits that are not Conventional Commits); "+
		"pass --bump to release anyway", len(in.Changes.Commits), since)
}

func notesData(in Input, r *Release, commits, authored []*parsed) NotesData {
	d := NotesData{
		Version: r.Version, Tag: r.Tag, PreviousTag: in.PreviousTag, Component: in.Component,
		Date: in.At.UTC().Format("2006-01-02"), Prerelease: r.Prerelease,
		CompareURL: in.Forge.CompareURL(in.PreviousTag, r.Tag),
	}
	bySection := map[string][]Entry{}
	contributors := map[string]*Contributor{}
	var order []string
	credit := func(name, email string) {
		k := contributorKey(name, email)
		c, ok := contributors[k]
		if !ok {
			c = &Contributor{Name: name, Email: email}
			contributors[k] = c
			order = append(order, k)
		}
		c.Commits++
	}
	for _, p := range authored {
		credit(p.c.Author, p.c.Email)
		for _, f := range p.msg.Footers {
			if strings.EqualFold(f.Token, "Co-authored-by") {
				name, email := splitIdent(f.Value)
				credit(name, email)
			}
		}
	}
	for _, p := range commits {
		if !p.msg.InNotes() {
			continue
		}
		e := Entry{Type: p.msg.Type, Scope: p.msg.Scope, Text: p.msg.Description, Hash: p.c.Hash,
			ShortHash: shortHash(p.c.Hash), CommitURL: in.Forge.CommitURL(p.c.Hash), Author: p.c.Author, Breaking: p.msg.Breaking}
		if e.Breaking {
			e.Text = firstParagraph(p.msg.BreakingNote)
		}
		e.Text = trimRefSuffix(e.Text, p.msg.Refs)
		for _, id := range p.msg.Refs {
			e.Refs = append(e.Refs, Ref{ID: id, URL: in.Forge.IssueURL(id)})
		}
		s := sectionOf(e)
		bySection[s] = append(bySection[s], e)
	}
	for _, title := range sectionOrder {
		if es := bySection[title]; len(es) > 0 {
			d.Sections = append(d.Sections, Section{Title: title, Entries: es})
		}
	}
	for _, k := range order {
		d.Contributors = append(d.Contributors, *contributors[k])
	}
	sort.SliceStable(d.Contributors, func(i, j int) bool { return d.Contributors[i].Commits > d.Contributors[j].Commits })
	return d
}

// splitIdent reads "Name <email>".
func splitIdent(s string) (string, string) {
	if i := strings.IndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		return strings.TrimSpace(s[:i]), s[i+1 : len(s)-1]
	}
	return strings.TrimSpace(s), ""
}

func firstParagraph(s string) string {
	p, _, _ := strings.Cut(s, "\n\n")
	return strings.Join(strings.Fields(p), " ")
}

func changeSet(cs *change.Set) ChangeSet {
	out := ChangeSet{FromCommit: cs.FromHash, ToCommit: cs.ToHash, Totals: cs.Totals()}
	out.Commits = make([]Commit, 0, len(cs.Commits))
	for _, c := range cs.Commits {
		out.Commits = append(out.Commits, Commit{Hash: c.Hash, Author: c.Author, Email: c.Email, Time: c.Time, Subject: c.Subject})
	}
	out.Files = make([]File, 0, len(cs.Files))
	for _, f := range cs.Files {
		out.Files = append(out.Files, File{Path: f.Path, OldPath: f.OldPath, Added: f.Added, Deleted: f.Deleted, Class: string(f.Class)})
	}
	return out
}

func planRisk(a risk.Assessment) plan.Risk {
	r := plan.Risk{Score: a.Score, Level: string(a.Level)}
	for _, f := range a.Factors {
		r.Factors = append(r.Factors, plan.RiskFactor{Name: f.Name, Contribution: f.Contribution, Reason: f.Reason})
	}
	return r
}

// trimRefSuffix drops the " (#12)" GitHub appends to a squashed pull request's subject: the
// entry links its references already.
func trimRefSuffix(text string, refs []string) string {
	for _, r := range refs {
		if t, ok := strings.CutSuffix(text, " (#"+r+")"); ok {
			return t
		}
	}
	return text
}
