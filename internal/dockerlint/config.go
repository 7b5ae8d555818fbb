package dockerlint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigFile is the name hugai looks for next to the Dockerfile, then in the working directory.
const ConfigFile = ".hugai-docker.yaml"

// Config is .hugai-docker.yaml: rules to ignore and severities to change.
//
//	ignore: [HG003, HG033]
//	severity:
//	  HG022: warning
type Config struct {
	Ignore   []string
	Severity map[string]Severity
}

func (c *Config) ignored(id string) bool { return slices.Contains(c.Ignore, id) }

// ConfigError names the file, line and field of a mistake in the config, like hugai's other files.
type ConfigError struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// maxConfig bounds the config: a real one is a few lines.
const maxConfig = 1 << 20

// ParseConfig decodes .hugai-docker.yaml from its YAML nodes, keeping lines for the errors, and
// checks every rule ID and severity. It reports all mistakes at once (errors.Join of
// *ConfigError).
func ParseConfig(file string, src []byte) (*Config, error) {
	if len(src) > maxConfig {
		return nil, &ConfigError{File: file, Line: 1, Field: "(file)", Msg: "larger than 1 MiB"}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &Config{}, nil
		}
		return nil, &ConfigError{File: file, Line: yamlErrLine(err), Field: "(file)", Msg: err.Error()}
	}
	c := &Config{Severity: map[string]Severity{}}
	var errs []error
	fail := func(n *yaml.Node, field, format string, args ...any) {
		errs = append(errs, &ConfigError{File: file, Line: n.Line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return c, nil
	}
	if root.Kind != yaml.MappingNode {
		fail(root, "(file)", "want a mapping with ignore and severity")
		return nil, errors.Join(errs...)
	}
	checkID := func(n *yaml.Node, field string) (string, bool) {
		if n.Kind != yaml.ScalarNode {
			fail(n, field, "want a rule ID such as HG003")
			return "", false
		}
		id := strings.ToUpper(strings.TrimSpace(n.Value))
		if _, ok := RuleByID(id); !ok {
			fail(n, field, "unknown rule %q (see `hugai analyze docker --help` or docs/docker.md)", n.Value)
			return "", false
		}
		return id, true
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "ignore":
			if v.Kind != yaml.SequenceNode {
				fail(v, "ignore", "want a list of rule IDs")
				continue
			}
			for j, item := range v.Content {
				if id, ok := checkID(item, fmt.Sprintf("ignore[%d]", j)); ok {
					c.Ignore = append(c.Ignore, id)
				}
			}
		case "severity":
			if v.Kind != yaml.MappingNode {
				fail(v, "severity", "want a mapping of rule ID to error, warning, info or style")
				continue
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				kn, vn := v.Content[j], v.Content[j+1]
				field := "severity." + kn.Value
				id, ok := checkID(kn, field)
				if !ok {
					continue
				}
				if vn.Kind != yaml.ScalarNode {
					fail(vn, field, "want error, warning, info or style")
					continue
				}
				sev, err := ParseSeverity(vn.Value, false)
				if err != nil {
					fail(vn, field, "%v", err)
					continue
				}
				c.Severity[id] = sev
			}
		default:
			fail(k, k.Value, "unknown field (want ignore or severity)")
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// yamlErrLine pulls the line out of a yaml.v3 syntax error ("yaml: line 3: …"), or 1.
func yamlErrLine(err error) int {
	var n int
	if _, scanErr := fmt.Sscanf(strings.TrimPrefix(err.Error(), "yaml: "), "line %d:", &n); scanErr == nil && n > 0 {
		return n
	}
	return 1
}
