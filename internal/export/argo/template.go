package argo

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
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
	for rest := out; strings.Contains(rest, "{{"); {
		i := strings.Index(rest, "{{")
		rest = rest[i+2:]
		if strings.HasPrefix(rest, "args.") {
			continue
		}
		return "", fmt.Errorf("%q: only plain fields ({{.Version}}, {{.Service}}, {{.Environment}}, {{.Window}}) translate to Argo Rollouts' arguments", s)
	}
	out = envVar.ReplaceAllStringFunc(out, func(m string) string {
		name := envVar.FindStringSubmatch(m)[1]
		if !slices.Contains(tr.envs, name) {
			tr.envs = append(tr.envs, name)
		}
		return "{{args." + name + "}}"
	})
	return out, nil
}

func (tr *translation) arg(name string) {
	if !slices.Contains(tr.args, name) {
		tr.args = append(tr.args, name)
	}
}
