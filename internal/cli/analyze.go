package cli

import "github.com/spf13/cobra"

// analyzeCmd groups the pre-flight checks that need no server.
func (a *app) analyzeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "analyze",
		Short: "Check what is about to ship before it ships",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(a.analyzeDockerCmd())
	return c
}
