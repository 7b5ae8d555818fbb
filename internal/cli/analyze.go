package cli

import "github.com/spf13/cobra"

// analyzeCmd groups the commands that look at measurements without acting on a rollout.
func (a *app) analyzeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "analyze",
		Short: "Look at what hugai measures, without a rollout",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(a.analyzeMetricsCmd())
	return c
}
