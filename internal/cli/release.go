package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/audit"
	"github.com/hugai-dev/hugai/internal/git"
	"github.com/hugai-dev/hugai/internal/plan"
	"github.com/hugai-dev/hugai/internal/release"
	"github.com/hugai-dev/hugai/internal/store"
	"github.com/hugai-dev/hugai/internal/store/sqlite"
)

func (a *app) releaseCmd() *cobra.Command {
	var dataDir string
	c := &cobra.Command{
		Use:   "release",
		Short: "Cut releases from Conventional Commits: version, notes, risk and a plan per environment",
	}
	c.PersistentFlags().StringVar(&dataDir, "data-dir", "", "hugai's data dir (default: $HUGAI_DATA_DIR, else the nearest .hugai/, else .hugai/ at the repository's root)")
	c.AddCommand(a.releaseCreateCmd(&dataDir), a.releaseShowCmd(&dataDir), a.releaseListCmd(&dataDir),
		a.releaseExecuteCmd(&dataDir), a.releaseStatusCmd(&dataDir))
	return c
}

type releaseFlags struct {
	repo, from, to, bump, pre, path, component string
	forge, templateFile, initial, file, at     string
	notesOut, output                           string
	dryRun, tag                                bool
}

func (a *app) releaseCreateCmd(dataDir *string) *cobra.Command {
	f := &releaseFlags{}
	c := &cobra.Command{
		Use:   "create",
		Short: "Decide the next version from the commits since the last release, write its notes and plans, and record it",
		Long: `create reads the commits since the last release tag (v1.2.3, or api/v1.2.3 with --path
services/api), parses them as Conventional Commits and decides the next version as release-please
does: a breaking change (type! or a BREAKING CHANGE footer) bumps the major version (the minor below
1.0.0), feat the minor, fix, perf, revert and other visible types the patch; chore, docs, style,
refactor, test, build and ci release nothing; a Release-As: footer names the version outright.
Merge commits count through the commits they merge; a commit reverted within the range drops out
with its revert. The release holds its notes (Markdown, grouped; --notes-template changes them), the
change and its risk, and a DeploymentPlan for each environment of the service file, with its
monitoring and rollback plans; it is kept in the store (see release show, release list) unless
--dry-run, and tagged with --tag.

Nothing to release (no commit that calls for one) prints why on standard error and exits 0 without
recording anything; -o json prints {"released": false, "reason": …}.

Exit codes: 0 released, or nothing to release; 1 failed to run (including a version already
recorded); 2 bad input (an unknown ref, a bad --bump, Release-As or template).`,
		Example: `  hugai release create
  hugai release create --from v1.2.0 --to HEAD --bump auto -o json
  hugai release create --prerelease rc --path services/api --tag
  hugai release create --notes-template notes.tmpl --notes-out CHANGELOG-entry.md --dry-run`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error { return a.runReleaseCreate(c.Context(), f, *dataDir) },
	}
	fl := c.Flags()
	fl.StringVar(&f.repo, "repo", "", "the git repository (default: the one the current directory is in)")
	fl.StringVar(&f.from, "from", "", "start of the range (default: the last release tag reachable from --to)")
	fl.StringVar(&f.to, "to", "HEAD", "end of the range")
	fl.StringVar(&f.bump, "bump", "auto", "auto|major|minor|patch (auto: from the commits)")
	fl.StringVar(&f.pre, "prerelease", "", "make a pre-release with this identifier: rc gives 1.3.0-rc.1, then -rc.2")
	fl.StringVar(&f.path, "path", "", "a monorepo package: only commits and files under this path, tags named after its last element (api/v1.2.3)")
	fl.StringVar(&f.component, "component", "", "the tag prefix of --path's package (default: the last element of --path)")
	fl.StringVar(&f.forge, "forge-url", "", "web address of the repository for links, e.g. https://github.com/org/repo (default: from the origin remote; HUGAI_FORGE_URL)")
	fl.StringVar(&f.templateFile, "notes-template", "", "a Go text/template file for the notes (data: docs/releases.md)")
	fl.StringVar(&f.initial, "initial-version", "1.0.0", "the version of a first release (no tag yet)")
	fl.StringVarP(&f.file, "file", "f", "", "service file for the deployment plans (default: hugai.yaml in --path, else at the repository's root, if any)")
	fl.StringVar(&f.at, "at", "", "the release's time, RFC 3339 (default: now)")
	fl.StringVar(&f.notesOut, "notes-out", "", "also write the notes to FILE (- for standard output)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "decide and print, record nothing")
	fl.BoolVar(&f.tag, "tag", false, "create the release's annotated git tag at --to (its message: the notes)")
	addOutputFlag(c, &f.output)
	return c
}

// nothingOut is what -o json|yaml prints when there is nothing to release.
type nothingOut struct {
	Released bool   `json:"released"`
	Reason   string `json:"reason"`
}

func (a *app) runReleaseCreate(ctx context.Context, f *releaseFlags, dataDirFlag string) error {
	if f.output != "table" && f.output != "json" && f.output != "yaml" {
		return badInput(fmt.Errorf("--output %q: want table, json or yaml", f.output))
	}
	in, repo, err := a.releaseInput(ctx, f)
	if err != nil {
		return err
	}
	r, err := release.Build(in)
	var nothing *release.NothingError
	var ie *release.InputError
	switch {
	case errors.As(err, &nothing):
		fmt.Fprintln(a.errOut, "hugai:", nothing.Error())
		if f.output == "table" {
			return nil
		}
		return a.print(f.output, nothingOut{Reason: nothing.Reason}, nil)
	case errors.As(err, &ie):
		return badInput(err)
	case err != nil:
		return err
	}
	if !f.dryRun {
		if err := recordRelease(ctx, dataDirFlag, repo, r); err != nil {
			return err
		}
	}
	if f.tag && !f.dryRun {
		if err := git.CreateTag(ctx, repo, r.Tag, f.to, r.Notes); err != nil {
			return fmt.Errorf("release %s is recorded, but: %w", r.Tag, err)
		}
	}
	if f.notesOut != "" {
		if err := a.writeOutput(f.notesOut, []byte(r.Notes)); err != nil {
			return err
		}
		if f.notesOut == "-" {
			return nil
		}
	}
	return a.print(f.output, r, func(w io.Writer) error { return printRelease(w, r, f.dryRun) })
}

// releaseInput reads everything release.Build needs from git, the files and the flags.
func (a *app) releaseInput(ctx context.Context, f *releaseFlags) (release.Input, string, error) {
	var in release.Input
	bump, err := release.ParseBump(f.bump)
	if err != nil {
		return in, "", badInput(fmt.Errorf("--bump: %w", err))
	}
	in.Bump, in.Prerelease = bump, f.pre
	in.At = time.Now().UTC()
	if f.at != "" {
		if in.At, err = time.Parse(time.RFC3339, f.at); err != nil {
			return in, "", badInput(fmt.Errorf("--at %q: want RFC 3339, e.g. 2026-11-27T14:00:00Z", f.at))
		}
	}
	iv, err := release.ParseVersion(f.initial)
	if err != nil {
		return in, "", badInput(fmt.Errorf("--initial-version: %w", err))
	}
	in.Initial = &iv

	start := f.repo
	if start == "" {
		if start, err = os.Getwd(); err != nil {
			return in, "", err
		}
	}
	repo, err := git.TopLevel(ctx, start)
	if err != nil {
		if errors.Is(err, git.ErrNotRepo) {
			return in, "", badInput(fmt.Errorf("release create reads a git repository: %w", err))
		}
		return in, "", err
	}
	if f.path != "" {
		p := path.Clean(filepath.ToSlash(f.path))
		if p == "." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
			return in, "", badInput(fmt.Errorf("--path %q: want a directory inside the repository, e.g. services/api", f.path))
		}
		in.Path = p
		in.Component = path.Base(p)
	}
	if f.component != "" {
		in.Component = f.component
	}
	if strings.ContainsAny(in.Component, " ~^:?*[\\") {
		return in, "", badInput(fmt.Errorf("component %q cannot name a git tag", in.Component))
	}

	from := f.from
	if prev, tag, err := lastRelease(ctx, repo, in.Component, orHead(f.from, f.to)); err != nil {
		return in, "", refError("--to", err)
	} else if prev != nil {
		in.Previous, in.PreviousTag = prev, tag
		if from == "" {
			from = tag
		}
	}
	q := git.Query{From: from, To: f.to, Messages: true}
	if in.Path != "" {
		q.Paths = []string{in.Path}
	}
	if in.Changes, err = git.Log(ctx, repo, q); err != nil {
		return in, "", refError("--from/--to", err)
	}

	forge := f.forge
	if forge == "" {
		forge = os.Getenv("HUGAI_FORGE_URL")
	}
	if forge == "" {
		if forge, err = git.RemoteURL(ctx, repo, "origin"); err != nil {
			return in, "", err
		}
	} else if release.ParseForge(forge).Base == "" {
		return in, "", badInput(fmt.Errorf("--forge-url %q: want the repository's web address, e.g. https://github.com/org/repo", forge))
	}
	in.Forge = release.ParseForge(forge)

	if f.templateFile != "" {
		b, err := readInput(f.templateFile)
		if err != nil {
			return in, "", err
		}
		in.Template = string(b)
	}
	svcPath := f.file
	if svcPath == "" {
		// A monorepo package's own service file first, then the repository's.
		for _, dir := range []string{filepath.Join(repo, filepath.FromSlash(in.Path)), repo} {
			if _, err := os.Stat(filepath.Join(dir, "hugai.yaml")); err == nil && (in.Path != "" || dir == repo) {
				svcPath = filepath.Join(dir, "hugai.yaml")
				break
			}
		}
	}
	if svcPath != "" {
		data, err := readInput(svcPath)
		if err != nil {
			return in, "", err
		}
		if in.Service, err = plan.ParseService(svcPath, data); err != nil {
			return in, "", badInput(err)
		}
	}
	return in, repo, nil
}

func orHead(from, to string) string {
	if from != "" {
		return from
	}
	return to
}

// lastRelease finds the highest version among the component's tags reachable from ref.
func lastRelease(ctx context.Context, repo, component, ref string) (*release.Version, string, error) {
	prefix := release.TagPrefix(component)
	tags, err := git.TagsMerged(ctx, repo, ref, prefix+"*")
	if err != nil {
		return nil, "", err
	}
	var best *release.Version
	bestTag := ""
	for _, t := range tags {
		v, err := release.ParseVersion(strings.TrimPrefix(t, prefix))
		if err != nil || !strings.HasPrefix(t, prefix) {
			continue // a tag of the prefix that is no version (v-next) is no release
		}
		if best == nil || v.Compare(*best) > 0 {
			best, bestTag = &v, t
		}
	}
	return best, bestTag, nil
}

// recordRelease keeps the release in the store of the data dir, creating .hugai/ at the
// repository's root when there is none yet, with an audit event in the same transaction.
func recordRelease(ctx context.Context, dataDirFlag, repo string, r *release.Release) error {
	dir, err := findDataDirFrom(dataDirFlag, os.Getenv("HUGAI_DATA_DIR"), repo)
	if err != nil {
		dir = filepath.Join(repo, dataDirName)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	st, err := sqlite.Open(filepath.Join(dir, DatabaseFile))
	if err != nil {
		return err
	}
	defer st.Close()
	doc, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode release: %w", err)
	}
	actor := osUser()
	payload, err := json.Marshal(map[string]any{"tag": r.Tag, "version": r.Version, "previousTag": r.PreviousTag,
		"toCommit": r.Changes.ToCommit, "risk": r.Risk.Score, "bump": r.Bump, "reason": r.Reason})
	if err != nil {
		return err
	}
	rec := store.ReleaseRecord{Tag: r.Tag, Component: r.Component, Version: r.Version, Document: doc, CreatedBy: actor, CreatedAt: r.CreatedAt}
	err = st.CreateRelease(ctx, rec, []audit.Event{{Type: "release.created", Actor: actor, Payload: payload}})
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("release %s is already recorded in %s (hugai release show %s): tag it (--tag) so the next release starts after it, or pass --dry-run", r.Tag, dir, r.Tag)
	}
	return err
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func printRelease(w io.Writer, r *release.Release, dryRun bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	state := "recorded"
	if dryRun {
		state = "dry run: not recorded"
	}
	prev := r.PreviousTag
	if prev == "" {
		prev = "(none)"
	}
	fmt.Fprintf(tw, "Release:\t%s (%s)\n", r.Tag, state)
	fmt.Fprintf(tw, "Previous:\t%s\n", prev)
	fmt.Fprintf(tw, "Bump:\t%s: %s\n", r.Bump, r.Reason)
	fmt.Fprintf(tw, "Commits:\t%d (%d in the notes, %d of types that release nothing, %d not conventional, %d merges, %d reverted)\n",
		r.Counts.Commits, r.Counts.InNotes, r.Counts.Hidden, r.Counts.NotConventional, r.Counts.Merges, r.Counts.Reverted)
	fmt.Fprintf(tw, "Files:\t%d (+%d −%d)\n", r.Changes.Totals.Files, r.Changes.Totals.Added, r.Changes.Totals.Deleted)
	fmt.Fprintf(tw, "Risk:\t%s (%d/100)\n", r.Risk.Level, r.Risk.Score)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Environments) > 0 {
		fmt.Fprintln(w, "\nPlans:")
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ENVIRONMENT\tSTRATEGY\tRISK\tAPPROVALS\tAUTO-ROLLBACK\tMONITOR")
		for _, e := range r.Environments {
			auto, mon := "-", "-"
			if e.Rollback != nil && e.Rollback.Automatic != nil {
				auto = fmt.Sprint(*e.Rollback.Automatic)
			}
			if e.Monitoring != nil && e.Monitoring.Duration != nil && e.Monitoring.Duration.Duration > 0 {
				mon = e.Monitoring.Duration.String()
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s (%d)\t%d\t%s\t%s\n", e.Environment, e.Strategy, e.Risk.Level, e.Risk.Score, e.Approvals, auto, mon)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	} else if r.PlansNote != "" {
		fmt.Fprintf(w, "\nPlans: %s\n", r.PlansNote)
	}
	fmt.Fprintln(w)
	_, err := io.WriteString(w, r.Notes)
	return err
}

func (a *app) releaseShowCmd(dataDir *string) *cobra.Command {
	var output, path, component string
	var notes bool
	c := &cobra.Command{
		Use:   "show VERSION",
		Short: "Print a recorded release: its notes, change, risk and plans",
		Long: "VERSION is the release's tag (v1.3.0, api/v1.3.0) or its version (1.3.0, with --path or\n" +
			"--component for a monorepo package's).",
		Example: "  hugai release show v1.3.0\n  hugai release show 0.4.0 --path services/api -o json\n  hugai release show v1.3.0 --notes > NOTES.md",
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			st, err := openStoreIn(*dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			comp := component
			if comp == "" && path != "" {
				comp = filepathBase(path)
			}
			rec, err := findRelease(c.Context(), st, args[0], comp)
			if err != nil {
				return err
			}
			var r release.Release
			if err := json.Unmarshal(rec.Document, &r); err != nil {
				return fmt.Errorf("release %s: stored document: %w", rec.Tag, err)
			}
			if notes {
				_, err := io.WriteString(a.out, r.Notes)
				return err
			}
			return a.print(output, &r, func(w io.Writer) error { return printRelease(w, &r, false) })
		},
	}
	c.Flags().StringVar(&path, "path", "", "the monorepo package the version is of")
	c.Flags().StringVar(&component, "component", "", "the tag prefix the version is of")
	c.Flags().BoolVar(&notes, "notes", false, "print only the notes (Markdown)")
	addOutputFlag(c, &output)
	return c
}

func filepathBase(p string) string { return path.Base(path.Clean(filepath.ToSlash(p))) }

// findRelease looks a release up by tag, then as a version of the component.
func findRelease(ctx context.Context, st *sqlite.Store, arg, component string) (store.ReleaseRecord, error) {
	candidates := []string{arg}
	if v, err := release.ParseVersion(arg); err == nil {
		candidates = append(candidates, release.TagFor(component, v))
	}
	for _, tag := range candidates {
		rec, err := st.ReleaseRecord(ctx, tag)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return rec, err
		}
	}
	return store.ReleaseRecord{}, badInput(fmt.Errorf("no release %s recorded (hugai release list shows them)", arg))
}

type releaseRow struct {
	Tag       string    `json:"tag"`
	Version   string    `json:"version"`
	Component string    `json:"component,omitempty"`
	Previous  string    `json:"previousTag,omitempty"`
	Bump      string    `json:"bump"`
	Risk      plan.Risk `json:"risk"`
	Commits   int       `json:"commits"`
	CreatedBy string    `json:"createdBy,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

func (a *app) releaseListCmd(dataDir *string) *cobra.Command {
	var output, path, component string
	var all bool
	var limit int
	c := &cobra.Command{
		Use:     "list",
		Short:   "List recorded releases, newest first",
		Example: "  hugai release list\n  hugai release list --all -o json\n  hugai release list --path services/api",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if limit < 0 {
				return badInput(errors.New("--limit must not be negative"))
			}
			st, err := openStoreIn(*dataDir)
			if err != nil {
				return err
			}
			defer st.Close()
			comp := component
			if comp == "" && path != "" {
				comp = filepathBase(path)
			}
			if all {
				comp = "*"
			}
			recs, err := st.ReleaseRecords(c.Context(), comp, limit)
			if err != nil {
				return err
			}
			rows := make([]releaseRow, 0, len(recs))
			for _, rec := range recs {
				var r release.Release
				if err := json.Unmarshal(rec.Document, &r); err != nil {
					return fmt.Errorf("release %s: stored document: %w", rec.Tag, err)
				}
				rows = append(rows, releaseRow{Tag: rec.Tag, Version: rec.Version, Component: rec.Component, Previous: r.PreviousTag,
					Bump: r.Bump, Risk: r.Risk, Commits: r.Counts.Commits, CreatedBy: rec.CreatedBy, CreatedAt: rec.CreatedAt})
			}
			return a.print(output, rows, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TAG\tPREVIOUS\tBUMP\tCOMMITS\tRISK\tCREATED\tBY")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s (%d)\t%s\t%s\n", r.Tag, dash(r.Previous), r.Bump, r.Commits, r.Risk.Level, r.Risk.Score,
						r.CreatedAt.Format(time.RFC3339), r.CreatedBy)
				}
				return tw.Flush()
			})
		},
	}
	c.Flags().StringVar(&path, "path", "", "only this monorepo package's releases")
	c.Flags().StringVar(&component, "component", "", "only this tag prefix's releases")
	c.Flags().BoolVar(&all, "all", false, "every component's releases")
	c.Flags().IntVar(&limit, "limit", 0, "at most this many (0: all)")
	addOutputFlag(c, &output)
	return c
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
