package risk

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hugai-dev/hugai/internal/change"
)

// The weights, in points of the 0-100 score. They are judgement informed by
// the literature (docs/risk.md), not fitted to data: change them there too.
const (
	sizePerDoubling = 2.5 // per doubling of (1 + lines/10)
	sizeCap         = 15

	diffusionPerFileDoubling = 1.5 // per doubling of files
	diffusionPerDirDoubling  = 1.5 // per doubling of directories
	diffusionPerSubsystem    = 1.0 // per top-level directory beyond the first
	diffusionEntropy         = 4.0 // times the normalised entropy (0..1)
	diffusionCap             = 15

	migrationFirst = 20 // one migration: a rollback may need a database step
	migrationEach  = 5  // each further migration (no cap of its own)

	configFirst, configEach, configCap             = 4, 1, 8
	dependencyFirst, dependencyEach, dependencyCap = 6, 1, 10
	infraFirst, infraEach, infraCap                = 6, 1, 10

	untestedSource = 6

	productionPoints = 15
	stagingPoints    = 5

	freezePoints  = 25
	weekendPoints = 10
	latePoints    = 8
	lateFrom      = 18 // local hour from which a deploy is "late"
	lateUntil     = 8  // local hour until which it still is

	rollbackRateWeight = 40 // points per 100% of rollouts rolled back
	rollbackRateCap    = 20

	noChangeAnalysisPoints = 10
)

func changeFactors(s *change.Set) []Factor {
	var fs []Factor
	t := s.Totals()
	if lines := t.Lines(); lines > 0 {
		fs = append(fs, Factor{Name: "size",
			Contribution: min(sizeCap, sizePerDoubling*math.Log2(1+float64(lines)/10)),
			Reason: fmt.Sprintf("changes %d lines (+%d -%d) in %s over %s",
				lines, t.Added, t.Deleted, plural(t.Files, "file"), plural(t.Commits, "commit"))})
	}
	if f, ok := diffusion(s); ok {
		fs = append(fs, f)
	}
	byClass := map[change.Class][]string{}
	for _, f := range s.Files {
		byClass[f.Class] = append(byClass[f.Class], f.Path)
	}
	if ps := byClass[change.Migration]; len(ps) > 0 {
		fs = append(fs, Factor{Name: "migrations",
			Contribution: migrationFirst + migrationEach*float64(len(ps)-1),
			Reason: fmt.Sprintf("changes %s: %s; a rollback may need a database step",
				plural(len(ps), "database migration"), list(ps))})
	}
	if ps := byClass[change.Config]; len(ps) > 0 {
		fs = append(fs, Factor{Name: "config", Contribution: stepped(len(ps), configFirst, configEach, configCap),
			Reason: fmt.Sprintf("changes %s: %s", plural(len(ps), "configuration file"), list(ps))})
	}
	if ps := byClass[change.Dependency]; len(ps) > 0 {
		fs = append(fs, Factor{Name: "dependencies", Contribution: stepped(len(ps), dependencyFirst, dependencyEach, dependencyCap),
			Reason: fmt.Sprintf("changes %s: %s", plural(len(ps), "dependency manifest"), list(ps))})
	}
	if ps := byClass[change.Infrastructure]; len(ps) > 0 {
		fs = append(fs, Factor{Name: "infrastructure", Contribution: stepped(len(ps), infraFirst, infraEach, infraCap),
			Reason: fmt.Sprintf("changes %s: %s", plural(len(ps), "infrastructure file"), list(ps))})
	}
	if src := byClass[change.Source]; len(src) > 0 && len(byClass[change.Test]) == 0 {
		fs = append(fs, Factor{Name: "untested-source", Contribution: untestedSource,
			Reason: fmt.Sprintf("changes %s and no tests", plural(len(src), "source file"))})
	}
	return fs
}

// diffusion scores how spread a change is: files, directories and
// subsystems (Mockus & Weiss 2000; NF, ND, NS in Kamei et al. 2013) and how
// evenly the lines are spread over the files (Kamei's entropy).
func diffusion(s *change.Set) (Factor, bool) {
	n := len(s.Files)
	if n < 2 {
		return Factor{}, false
	}
	dirs, subs := len(s.Dirs()), s.Subsystems()
	h := entropy(s.Files)
	points := diffusionPerFileDoubling*math.Log2(float64(n)) +
		diffusionPerDirDoubling*math.Log2(float64(dirs)) +
		diffusionPerSubsystem*float64(len(subs)-1) +
		diffusionEntropy*h
	reason := fmt.Sprintf("touches %s in %s across %s (%s)",
		plural(n, "file"), plural(dirs, "directory"), plural(len(subs), "subsystem"), list(subs))
	if h > 0 {
		reason += fmt.Sprintf("; lines spread over files with %.0f%% of the maximum entropy", h*100)
	}
	return Factor{Name: "diffusion", Contribution: min(diffusionCap, points), Reason: reason}, true
}

// entropy is the Shannon entropy of the share of changed lines per file,
// divided by its maximum log2(files): 0 all in one file, 1 evenly spread.
func entropy(files []change.File) float64 {
	total := 0
	for _, f := range files {
		total += f.Lines()
	}
	if total == 0 || len(files) < 2 {
		return 0
	}
	var h float64
	for _, f := range files {
		if l := f.Lines(); l > 0 {
			p := float64(l) / float64(total)
			h -= p * math.Log2(p)
		}
	}
	return h / math.Log2(float64(len(files)))
}

// environmentKind reads an environment's name: production/prod/prd and
// staging/stage/preprod, also as a part of a longer name ("prod-eu").
func environmentKind(env string) string {
	parts := strings.FieldsFunc(strings.ToLower(env), func(r rune) bool {
		return r == '-' || r == '_' || r == '.' || r == ' ' || r == '/'
	})
	kind := ""
	for _, p := range parts {
		switch p {
		case "production", "prod", "prd":
			return "production"
		case "staging", "stage", "stg", "preprod", "pre-production", "preproduction":
			kind = "staging"
		}
	}
	return kind
}

func environmentFactor(env string) []Factor {
	if env == "" {
		return nil
	}
	switch environmentKind(env) {
	case "production":
		return []Factor{{Name: "environment", Contribution: productionPoints,
			Reason: fmt.Sprintf("deploys to %q, a production environment: a failure reaches users", env)}}
	case "staging":
		return []Factor{{Name: "environment", Contribution: stagingPoints,
			Reason: fmt.Sprintf("deploys to %q, a staging environment: a failure reaches testers, not users", env)}}
	}
	return []Factor{{Name: "environment", Contribution: 0,
		Reason: fmt.Sprintf("deploys to %q, neither production nor staging: counts lowest", env)}}
}

// timeFactor judges when the deploy happens; the strongest reason applies:
// a freeze window, then the weekend, then late hours.
func timeFactor(at time.Time, loc *time.Location, freeze string) []Factor {
	if at.IsZero() && freeze == "" {
		return nil
	}
	if loc == nil {
		loc = time.UTC
	}
	local := at.In(loc)
	when := local.Format("Mon 2 Jan 2006 15:04 MST")
	switch {
	case freeze != "":
		return []Factor{{Name: "deploy-time", Contribution: freezePoints,
			Reason: fmt.Sprintf("planned inside the freeze window %q (%s)", freeze, when)}}
	case at.IsZero():
		return nil
	case local.Weekday() == time.Saturday || local.Weekday() == time.Sunday:
		return []Factor{{Name: "deploy-time", Contribution: weekendPoints,
			Reason: fmt.Sprintf("planned for the weekend (%s), when fewer people are at hand", when)}}
	case local.Hour() >= lateFrom || local.Hour() < lateUntil:
		return []Factor{{Name: "deploy-time", Contribution: latePoints,
			Reason: fmt.Sprintf("planned outside working hours (%s; %02d:00-%02d:00 counts as late)", when, lateFrom, lateUntil)}}
	}
	return nil
}

func rollbackFactor(rate *float64) []Factor {
	if rate == nil {
		return nil
	}
	r := *rate
	if math.IsNaN(r) || r < 0 {
		r = 0
	}
	r = min(r, 1)
	return []Factor{{Name: "rollback-rate", Contribution: min(rollbackRateCap, rollbackRateWeight*r),
		Reason: fmt.Sprintf("%.0f%% of this service's recent rollouts were rolled back (its change failure rate)", r*100)}}
}

// stepped gives first points for one item and each more per further item, up to limit.
func stepped(n int, first, each, limit float64) float64 {
	return min(limit, first+each*float64(n-1))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	switch {
	case strings.HasSuffix(word, "y"):
		word = strings.TrimSuffix(word, "y") + "ies"
	default:
		word += "s"
	}
	return fmt.Sprintf("%d %s", n, word)
}

// list names up to three items and counts the rest.
func list(items []string) string {
	const shown = 3
	if len(items) <= shown {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:shown], ", "), len(items)-shown)
}
