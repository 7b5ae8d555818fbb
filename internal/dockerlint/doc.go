package dockerlint

import (
	"fmt"
	"strings"
)

// RulesMarkdown renders the rule table for docs/docker.md, so the docs cannot drift from the
// rules (a test compares them).
func RulesMarkdown() string {
	var b strings.Builder
	for _, g := range append([]Group{""}, Groups...) {
		title := map[Group]string{
			"":           "Always on",
			Security:     "Security (`--security-scan`)",
			Size:         "Image size (`--size-optimization`)",
			Layers:       "Layers and build cache (`--optimize-layers`)",
			BestPractice: "Best practices (`--best-practices`)",
		}[g]
		fmt.Fprintf(&b, "### %s\n\n", title)
		for _, r := range Rules() {
			if r.Group != g {
				continue
			}
			fmt.Fprintf(&b, "#### %s — %s (%s)\n\n%s\n\n**Fix:** %s\n\n", r.ID, r.Title, r.Severity, r.Description, r.Fix)
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
