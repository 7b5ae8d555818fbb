package argo

import (
	"fmt"
	"regexp"
	"slices"
)

// Arguments the exported templates take from the Rollout, in place of hugai's template fields.
const (
	ArgService     = "service-name" // the seed's hugai-analysis template names it so
	ArgVersion     = "version"
	ArgEnvironment = "environment"
)

var (
	// hugaiField is one of hugai's template actions that the export can translate: a bare field.
	hugaiField = regexp.MustCompile(`\{\{-?\s*\.([A-Za-z]+)\s*-?\}\}`)
	// envVar is a ${VAR} read from hugai's environment at each request.
	envVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// translation is what a metric's strings need from the AnalysisTemplate: the arguments they use
// and the environment variables that became Secret-backed arguments.
type translation struct {
	window string // the analysis interval, as hugai's {{.Window}} is
	args   []string
	envs   []string
}

// text rewrites one of hugai's template strings (a query, URL, address or header) into Argo's
// argument syntax: {{.Version}} → {{args.version}}, {{.Service}} → {{args.service-name}},
// {{.Environment}} → {{args.environment}}, {{.Window}} → the analysis interval, ${VAR} →
// {{args.VAR}} (an argument read from a Secret). What has no Argo equivalent ({{.From}},
// {{.To}}, pipelines, functions) is an error that says so, never passed through for Argo to
// misread.
func (tr *translation) text(s string) (string, error) {
	var bad error
	out := hugaiField.ReplaceAllStringFunc(s, func(m string) string {
		field := hugaiField.FindStringSubmatch(m)[1]
		switch field {
		case "Version":
			tr.arg(ArgVersion)
			return "{{args." + ArgVersion + "}}"
		case "Service":
			tr.arg(ArgService)
			return "{{args." + ArgService + "}}"
		case "Environment":
			tr.arg(ArgEnvironment)
			return "{{args." + ArgEnvironment + "}}"
		case "Window":
			return tr.window
		}
		if bad == nil {
			bad = fmt.Errorf("{{.%s}} has no Argo Rollouts equivalent (an AnalysisRun measures at its own times): translatable are {{.Version}}, {{.Service}}, {{.Environment}} and {{.Window}}", field)
		}
		return m
	})
	if bad != nil {
		return "", bad
	}
	out = envVar.ReplaceAllStringFunc(out, func(m string) string {
		name := envVar.FindStringSubmatch(m)[1]
		if !slices.Contains(tr.envs, name) {
			tr.envs = append(tr.envs, name)
		}
		return "{{args." + name + "}}"
	})
	// Argo substitutes {{...}} with no escape: every {{ of the result must open one argument, and
	// none may touch a brace of the user's text ({${A}} would become {{{args.A}}}, which Argo
	// reads as the argument "{args.A").
	for i := 0; i < len(out); i++ {
		if out[i] != '{' || i+1 >= len(out) || out[i+1] != '{' {
			continue
		}
		m := argRef.FindString(out[i:])
		if m == "" || (i > 0 && out[i-1] == '{') {
			return "", fmt.Errorf("%q: only plain fields ({{.Version}}, {{.Service}}, {{.Environment}}, {{.Window}}) and ${VAR}, not next to a brace, translate to Argo Rollouts' arguments", s)
		}
		i += len(m) - 1
	}
	return out, nil
}

// argRef is one Argo argument reference, as the translation writes them.
var argRef = regexp.MustCompile(`^\{\{args\.[A-Za-z0-9_-]+\}\}`)

func (tr *translation) arg(name string) {
	if !slices.Contains(tr.args, name) {
		tr.args = append(tr.args, name)
	}
}
