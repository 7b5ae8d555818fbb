package cli

import (
	"encoding/json"
	"fmt"
	"io"

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
