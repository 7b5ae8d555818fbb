package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/hugai-dev/hugai/internal/api"
	"github.com/hugai-dev/hugai/internal/client"
	"github.com/hugai-dev/hugai/internal/rollout"
)

// follower follows one rollout until it ends: a live view redrawn in place on a terminal, one
// plain line per change otherwise. It outlives server restarts by retrying an unreachable server.
type follower struct {
	c      *client.Client
	out    io.Writer
	errOut io.Writer
	now    func() time.Time
	// width is the terminal's width for the live view; 0 means plain lines.
	width int
	// retryEvery and giveUpAfter bound reconnection: a server killed and started again comes back
	// in seconds; one that stays away for minutes is not coming back by itself.
	retryEvery  time.Duration
	giveUpAfter time.Duration
}

func (a *app) newFollower(c *client.Client) *follower {
	f := &follower{c: c, out: a.out, errOut: a.errOut, now: time.Now, retryEvery: 250 * time.Millisecond, giveUpAfter: 3 * time.Minute}
	if file, ok := a.out.(*os.File); ok && term.IsTerminal(int(file.Fd())) {
		f.width = 80
		if w, _, err := term.GetSize(int(file.Fd())); err == nil && w > 0 {
			f.width = w
		}
	}
	return f
}

// follow prints r and every change to it until it is terminal, and returns it as it ended.
func (f *follower) follow(ctx context.Context, r api.Rollout) (api.Rollout, error) {
	live := f.width > 0
	pollFor := 30 * time.Second
	if live {
		pollFor = time.Second // the view's clocks tick even when nothing changes
	}
	var screen liveScreen
	lastLine := ""
	show := func(footer string) {
		if live {
			screen.draw(f.out, renderLive(r, f.now())+footer, f.width)
			return
		}
		line := plainLine(r, f.now())
		if body := line[strings.IndexByte(line, ' ')+1:]; body != lastLine {
			fmt.Fprintln(f.out, line)
			lastLine = body
		}
	}
	show("")
	var downSince time.Time
	for !r.Terminal {
		next, err := f.c.Wait(ctx, r.ID, r.Revision, pollFor)
		if errors.Is(err, client.ErrUnreachable) {
			if downSince.IsZero() {
				downSince = f.now()
				if live {
					show("\n(hugai server unreachable: reconnecting…)\n")
				} else {
					fmt.Fprintf(f.errOut, "hugai: server unreachable, reconnecting to follow %s…\n", r.ID)
				}
			}
			if f.now().Sub(downSince) > f.giveUpAfter {
				return r, fmt.Errorf("follow %s: server unreachable for %s; the rollout may still be running: %w", r.ID, f.giveUpAfter, err)
			}
			if err := sleepCtx(ctx, f.retryEvery); err != nil {
				return r, f.stopped(r, err)
			}
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return r, f.stopped(r, err)
			}
			return r, fmt.Errorf("follow %s: %w", r.ID, err)
		}
		if !downSince.IsZero() {
			downSince = time.Time{}
			if !live {
				fmt.Fprintf(f.errOut, "hugai: reconnected\n")
			}
		}
		r = next
		show("")
	}
	return r, nil
}

func (f *follower) stopped(r api.Rollout, err error) error {
	return fmt.Errorf("stopped following %s (it goes on; see 'hugai deploy status %s --watch'): %w", r.ID, r.ID, err)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// resultOf turns an ended rollout into the command's exit: nil for Succeeded, else its exit code
// with a line saying why.
func resultOf(r api.Rollout) error {
	code := r.ExitCode
	if code == ExitOK {
		// A server that left the code out: the phase says it.
		if code = rollout.Phase(r.Phase).ExitCode(); code == ExitOK {
			return nil
		}
	}
	msg := fmt.Sprintf("rollout %s %s", r.ID, r.Phase)
	if why := strings.TrimSpace(strings.Join(nonEmpty(r.Reason, r.Message), ": ")); why != "" {
		msg += " (" + why + ")"
	}
	return withCode(code, errors.New(msg))
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// liveScreen redraws a block of text in place: cursor up over what it drew last, clear to the end
// of the screen, draw again. Lines are cut to the width so that none wraps and breaks the count.
type liveScreen struct{ lines int }

func (s *liveScreen) draw(w io.Writer, text string, width int) {
	var b strings.Builder
	if s.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", s.lines)
	}
	b.WriteString("\r\x1b[J")
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	for _, l := range lines {
		if width > 1 && utf8.RuneCountInString(l) >= width {
			l = string([]rune(l)[:width-1])
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	s.lines = len(lines)
	io.WriteString(w, b.String())
}

// renderLive is the live view of r at now: header, steps, traffic, analysis, pending approval.
// Pure, so it is golden-tested.
func renderLive(r api.Rollout, now time.Time) string {
	var b strings.Builder
	end := now
	if r.Terminal && !r.UpdatedAt.IsZero() {
		end = r.UpdatedAt
	}
	fmt.Fprintf(&b, "Rollout %s  %s %s → %s\n", r.ID, r.Service, r.Version, r.Environment)
	fmt.Fprintf(&b, "  Phase:     %s (elapsed %s)\n", r.Phase, shortDuration(end.Sub(r.CreatedAt)))
	strategy := r.Strategy
	if r.PreviousVersion != "" {
		strategy += ", replacing " + r.PreviousVersion
	}
	fmt.Fprintf(&b, "  Strategy:  %s\n", strategy)
	if why := strings.Join(nonEmpty(r.Reason, r.Message), ": "); why != "" {
		fmt.Fprintf(&b, "  Reason:    %s\n", why)
	}
	for _, o := range r.Overrides {
		fmt.Fprintf(&b, "  Override:  %s\n", o)
	}
	if len(r.Checkpoints) > 0 {
		b.WriteString("Checkpoints:\n")
		for _, c := range r.Checkpoints {
			req := "optional"
			if c.Required {
				req = "required"
			}
			line := fmt.Sprintf("  %-28s %-10s %s (%s)", c.Name, c.State, c.How, req)
			switch {
			case len(c.SignedOff) > 0:
				line += " by " + strings.Join(c.SignedOff, ", ")
			case c.How == "sign-off":
				line += fmt.Sprintf(": hugai deploy approve %s --gate %s", r.ID, c.Name)
			}
			b.WriteString(line + "\n")
		}
	}
	if len(r.Steps) > 0 {
		b.WriteString("Steps:\n")
		for i, s := range r.Steps {
			mark, left := stepMark(r, i, s), ""
			if mark == "▶" && r.Terminal {
				mark = "✗" // where it stopped
			}
			if mark == "▶" && r.StepEndsAt != nil {
				left = fmt.Sprintf("  (%s left)", shortDuration(max(r.StepEndsAt.Sub(now), 0)))
			}
			fmt.Fprintf(&b, "  %s %d/%d %s%s\n", mark, i+1, len(r.Steps), s.Description, left)
		}
	}
	if ws := weightOrder(r); len(ws) > 0 {
		b.WriteString("Traffic:\n")
		for _, v := range ws {
			w := min(max(r.Weights[v], 0), 100)
			bar := strings.Repeat("█", w/5) + strings.Repeat("░", 20-w/5)
			fmt.Fprintf(&b, "  %-12s %3d%%  %s\n", v, w, bar)
		}
	}
	if len(r.Analysis) > 0 {
		b.WriteString("Analysis:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  METRIC\tVALUE\tTHRESHOLD\tRESULT\tSAMPLES")
		for _, c := range r.Analysis {
			samples := fmt.Sprint(c.Samples)
			if c.Needed > 0 {
				samples = fmt.Sprintf("%d of %d", c.Samples, c.Samples+c.Needed)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Metric, criterionValue(c), condition(c), resultWord(c.Phase), samples)
		}
		tw.Flush()
	}
	if cmp := r.Comparison; cmp != nil && len(cmp.Results) > 0 {
		fmt.Fprintf(&b, "Comparison (sequential, α %g, since the candidate took traffic):\n", cmp.Alpha)
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  TEST\tCANDIDATE\tBASELINE\tRATIO\tEVIDENCE\tDECISION")
		for _, res := range cmp.Results {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%.1f of %.1f\t%s\n", res.Metric, rollout.Share(res.Canary), rollout.Share(res.Baseline),
				fmt.Sprintf("%.2g [%.2g, %.2g]", res.Ratio.Estimate, res.Ratio.Low, res.Ratio.High), res.Statistic, res.Boundary, res.Decision)
		}
		tw.Flush()
	}
	if len(r.Monitors) > 0 {
		b.WriteString("Monitors:\n")
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  METRIC\tVALUE\tSAMPLES")
		for _, c := range r.Monitors {
			fmt.Fprintf(tw, "  %s\t%s\t%d\n", c.Metric, criterionValue(c), c.Samples)
		}
		tw.Flush()
	}
	if ap := r.Approval; ap != nil {
		who := "anyone allowed"
		if len(ap.Approvers) > 0 {
			who = strings.Join(ap.Approvers, ", ")
		}
		fmt.Fprintf(&b, "Approval:  %s needs %d of %s; received %d", ap.Gate, max(ap.Needed, 1), who, len(ap.Received))
		if len(ap.Received) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(ap.Received, ", "))
		}
		b.WriteString("\n")
		if ap.Missing != "" {
			fmt.Fprintf(&b, "  still needed: %s\n", ap.Missing)
		}
		if ap.FourEyes && ap.PlannedBy != "" && ap.PlannedBy != ap.StartedBy {
			fmt.Fprintf(&b, "  four-eyes: %s made its plan and may not approve it\n", ap.PlannedBy)
		}
		if ap.FourEyes && ap.StartedBy != "" {
			fmt.Fprintf(&b, "  four-eyes: %s started it and may not approve it\n", ap.StartedBy)
		}
		if !ap.Deadline.IsZero() {
			fmt.Fprintf(&b, "  deadline %s (%s left): hugai deploy approve %s --gate %s\n", ap.Deadline.In(now.Location()).Format("15:04:05"),
				shortDuration(max(ap.Deadline.Sub(now), 0)), r.ID, ap.Gate)
		}
	}
	return b.String()
}

// plainLine is one line for logs and pipes:
// `HH:MM:SS phase=Progressing step=2/7 weights=v1:75,v2:25 error_rate=0.4%<1% ok …`.
func plainLine(r api.Rollout, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s phase=%s", now.Format("15:04:05"), r.Phase)
	if n := len(r.Steps); n > 0 {
		fmt.Fprintf(&b, " step=%d/%d", min(r.CurrentStep+1, n), n)
	}
	if ws := weightOrder(r); len(ws) > 0 {
		parts := make([]string, len(ws))
		for i, v := range ws {
			parts[i] = fmt.Sprintf("%s:%d", v, r.Weights[v])
		}
		b.WriteString(" weights=" + strings.Join(parts, ","))
	}
	for _, c := range r.Analysis {
		fmt.Fprintf(&b, " %s=%s%s %s", c.Metric, criterionValue(c), condition(c), plainResult(c.Phase))
	}
	if ap := r.Approval; ap != nil {
		fmt.Fprintf(&b, " approval=%s(%d/%d)", ap.Gate, len(ap.Received), max(ap.Needed, 1))
		if len(ap.Approvers) > 0 {
			b.WriteString(" approvers=" + strings.Join(ap.Approvers, ","))
		}
		if !ap.Deadline.IsZero() {
			b.WriteString(" deadline=" + ap.Deadline.In(now.Location()).Format("15:04:05"))
		}
	}
	if r.Reason != "" {
		reason := r.Reason
		if strings.ContainsAny(reason, " \t\"=") {
			reason = strconv.Quote(reason) // one field to whoever splits the line on spaces
		}
		b.WriteString(" reason=" + reason)
	}
	return b.String()
}

func stepMark(r api.Rollout, i int, s api.Step) string {
	switch s.State {
	case "done":
		return "✓"
	case "running":
		return "▶"
	case "skipped":
		return "-"
	case "pending":
		return " "
	}
	switch { // a server that sends no states: the index says where the rollout is
	case i < r.CurrentStep || r.Terminal && r.Phase == string(rollout.Succeeded):
		return "✓"
	case i == r.CurrentStep && !r.Terminal:
		return "▶"
	}
	return " "
}

// weightOrder lists the versions with traffic: the one being replaced, the new one, then the rest.
func weightOrder(r api.Rollout) []string {
	var out []string
	for _, v := range []string{r.PreviousVersion, r.Version} {
		if _, ok := r.Weights[v]; ok && v != "" {
			out = append(out, v)
		}
	}
	var rest []string
	for v := range r.Weights {
		if v != r.PreviousVersion && v != r.Version {
			rest = append(rest, v)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func criterionValue(c api.Criterion) string {
	switch {
	case c.Display != "":
		return c.Display
	case c.Value != nil:
		return fmt.Sprintf("%g", *c.Value)
	}
	return "-"
}

// condition is the threshold part of a criterion ("<1%"), whether or not the server repeats the
// metric's name in it.
func condition(c api.Criterion) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.ReplaceAll(c.Condition, " ", ""), c.Metric))
}

func resultWord(phase string) string {
	switch phase {
	case "Successful":
		return "PASS"
	case "Failed":
		return "FAIL"
	case "Inconclusive":
		return "INCONCLUSIVE"
	case "Error":
		return "ERROR"
	}
	return "…"
}

func plainResult(phase string) string {
	if phase == "Successful" {
		return "ok"
	}
	if w := resultWord(phase); w != "…" {
		return w
	}
	return "pending"
}

// shortDuration prints whole seconds without zero parts: 2m, 1m10s, 45s.
func shortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
