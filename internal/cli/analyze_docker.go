package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/hugai-dev/hugai/internal/dockerlint"
)

var dockerOutputFormats = []string{"text", "table", "json", "yaml", "sarif"}

var dockerOutputExts = [][2]string{{".sarif.json", "sarif"}, {".sarif", "sarif"}, {".json", "json"}, {".yaml", "yaml"}, {".yml", "yaml"}}

func (a *app) analyzeDockerCmd() *cobra.Command {
	var (
		output, failOn, configPath               string
		layers, security, size, practice, listIt bool
	)
	c := &cobra.Command{
		Use:   "docker [Dockerfile...]",
		Short: "Check Dockerfiles: pinned bases, non-root users, secrets, layers and image size",
		Long: `Parses each Dockerfile (default: ./Dockerfile) with buildkit's parser and checks it against
hugai's rules; every finding has a rule ID, a severity, a line and a concrete fix. The rules are
listed with --list-rules and in docs/docker.md.

Rule groups: --security-scan, --size-optimization, --optimize-layers and --best-practices each
select a group; with none of them, all groups run. HG000 (an instruction buildkit refuses) always
runs.

Ignoring and re-rating: .hugai-docker.yaml next to the Dockerfile, else in the working directory
(or --config FILE):
    ignore: [HG003]
    severity: {HG033: warning}
and '# hugai-ignore=HG001,HG003' on the line before an instruction ignores those rules there.

Output (-o/--output): text (default), json, yaml or sarif (SARIF 2.1.0) on stdout; any other value
is a file to write, its extension naming the format: .json, .yaml/.yml, .sarif (or .sarif.json).
Anything else is refused (exit 2).

Exit codes: 0 no finding at or above --fail-on (error|warning|info|style|none; default error),
1 findings at or above it, 2 bad input (a missing or unparsable Dockerfile, a bad config).`,
		RunE: func(c *cobra.Command, args []string) error {
			if listIt {
				return a.listDockerRules()
			}
			format, file, err := outputTarget(output, dockerOutputFormats, dockerOutputExts)
			if err != nil {
				return err
			}
			threshold, err := dockerlint.ParseSeverity(failOn, true)
			if err != nil {
				return badInput(fmt.Errorf("--fail-on: %w", err))
			}
			opts := dockerlint.Options{}
			for on, g := range map[*bool]dockerlint.Group{&security: dockerlint.Security, &size: dockerlint.Size, &layers: dockerlint.Layers, &practice: dockerlint.BestPractice} {
				if *on {
					opts.Groups = append(opts.Groups, g)
				}
			}
			if len(args) == 0 {
				args = []string{"Dockerfile"}
			}
			var all []dockerlint.Finding
			for _, path := range args {
				fs, err := analyzeDockerfile(path, configPath, opts)
				if err != nil {
					return err
				}
				all = append(all, fs...)
			}
			report := dockerlint.NewReport(args, all)
			if err := a.writeDockerReport(report, format, file); err != nil {
				return err
			}
			if n := dockerlint.AtOrAbove(all, threshold); n > 0 {
				return withCode(ExitFailed, fmt.Errorf("%d finding(s) at or above %s", n, threshold))
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVarP(&output, "output", "o", "text", "text|json|yaml|sarif, or a file to write: .json, .yaml, .yml, .sarif")
	f.StringVar(&failOn, "fail-on", "error", "exit 1 when a finding is at or above: error|warning|info|style|none")
	f.StringVar(&configPath, "config", "", "the config file (default: "+dockerlint.ConfigFile+" next to the Dockerfile, else here)")
	f.BoolVar(&security, "security-scan", false, "run the security rules (base pinning, root, secrets, ADD, curl|sh…)")
	f.BoolVar(&size, "size-optimization", false, "run the image size rules (package caches, fat bases, build tools)")
	f.BoolVar(&layers, "optimize-layers", false, "run the layer and cache rules (RUN consolidation, COPY . . before installs…)")
	f.BoolVar(&practice, "best-practices", false, "run the general rules (JSON CMD, pipefail, HEALTHCHECK, WORKDIR…)")
	f.BoolVar(&listIt, "list-rules", false, "list the rules and exit")
	return c
}

// analyzeDockerfile reads, parses and checks one Dockerfile with its config.
func analyzeDockerfile(path, configPath string, opts dockerlint.Options) ([]dockerlint.Finding, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, badInput(fmt.Errorf("read Dockerfile: %w", err))
	}
	f, err := dockerlint.Parse(path, src)
	if err != nil {
		return nil, badInput(fmt.Errorf("parse Dockerfile %w", err))
	}
	cfg, err := loadDockerConfig(path, configPath)
	if err != nil {
		return nil, err
	}
	opts.Config = cfg
	return dockerlint.Analyze(f, opts), nil
}

// loadDockerConfig finds and parses the config: --config, else next to the Dockerfile, else in
// the working directory; none is no config.
func loadDockerConfig(dockerfile, explicit string) (*dockerlint.Config, error) {
	candidates := []string{filepath.Join(filepath.Dir(dockerfile), dockerlint.ConfigFile), dockerlint.ConfigFile}
	if explicit != "" {
		candidates = []string{explicit}
	}
	for _, p := range candidates {
		src, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && explicit == "" {
			continue
		}
		if err != nil {
			return nil, badInput(fmt.Errorf("read config: %w", err))
		}
		cfg, err := dockerlint.ParseConfig(p, src)
		if err != nil {
			return nil, badInput(err)
		}
		return cfg, nil
	}
	return nil, nil
}

func (a *app) writeDockerReport(r dockerlint.Report, format, file string) error {
	var buf bytes.Buffer
	var err error
	switch format {
	case "text", "table":
		err = dockerlint.WriteText(&buf, r)
	case "json":
		err = writeJSON(&buf, r)
	case "sarif":
		err = writeJSON(&buf, dockerlint.SARIF(r, version))
	case "yaml":
		err = writeYAML(&buf, r)
	}
	if err != nil {
		return fmt.Errorf("write %s report: %w", format, err)
	}
	if file == "" {
		_, err = a.out.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	_, err = fmt.Fprintf(a.out, "wrote %d finding(s) to %s (%s)\n", len(r.Findings), file, format)
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeYAML goes through JSON so the json tags name the fields, as print does.
func writeYAML(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var generic any
	if err := yaml.Unmarshal(b, &generic); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	defer enc.Close()
	return enc.Encode(generic)
}

func (a *app) listDockerRules() error {
	for _, r := range dockerlint.Rules() {
		group := string(r.Group)
		if group == "" {
			group = "always"
		}
		if _, err := fmt.Fprintf(a.out, "%s  %-7s  %-13s  %s\n", r.ID, r.Severity, group, r.Title); err != nil {
			return err
		}
	}
	return nil
}
