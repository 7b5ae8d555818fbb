package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

// addOutputFlag adds -o/--output, the kubectl convention for the format of printed data.
func addOutputFlag(c *cobra.Command, output *string) {
	c.Flags().StringVarP(output, "output", "o", "table", "output format: table|json|yaml")
	_ = c.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp
	})
}

// print writes v in the chosen format; table uses the command's own human layout.
func (a *app) print(format string, v any, table func(io.Writer) error) error {
	switch format {
	case "table", "":
		return table(a.out)
	case "json":
		enc := json.NewEncoder(a.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case "yaml":
		// Through JSON so that json tags name the fields, as in every other output.
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := yaml.Unmarshal(b, &generic); err != nil {
			return err
		}
		enc := yaml.NewEncoder(a.out)
		enc.SetIndent(2)
		defer enc.Close()
		return enc.Encode(generic)
	default:
		return badInput(fmt.Errorf("--output %q: want table, json or yaml", format))
	}
}

// outputTarget resolves an -o/--output value for commands that can also write a file (the seed
// writes `--output analysis.json`): a format name prints to stdout; any other value is a file,
// its extension naming the format; a value that is neither is refused (exit 2). exts maps an
// extension (longest match first, e.g. ".sarif.json" before ".json") to a format.
func outputTarget(value string, formats []string, exts [][2]string) (format, file string, err error) {
	if slices.Contains(formats, value) {
		return value, "", nil
	}
	// The file's own name must be more than the extension: "out/.json" is a slip, not a file.
	base := strings.ToLower(filepath.Base(value))
	for _, e := range exts {
		if strings.HasSuffix(base, e[0]) && len(base) > len(e[0]) {
			return e[1], value, nil
		}
	}
	var names []string
	for _, e := range exts {
		names = append(names, e[0])
	}
	return "", "", badInput(fmt.Errorf("--output %q: want a format (%s) or a file ending %s",
		value, strings.Join(formats, ", "), strings.Join(names, ", ")))
}
