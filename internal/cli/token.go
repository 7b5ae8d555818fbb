package cli

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hugai-dev/hugai/internal/api"
)

func (a *app) tokenCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (admins)",
		Long: "An API token authenticates a machine or a person to the server, over TCP (where one is\n" +
			"required) or the socket. Its role caps what its subject may do under each environment's policy;\n" +
			"--environment limits it to one environment. The secret is printed once and stored only hashed.\n" +
			"Use it as HUGAI_TOKEN with HUGAI_SERVER=https://host:port (docs/governance.md).",
	}
	c.AddCommand(a.tokenCreateCmd(), a.tokenListCmd(), a.tokenRevokeCmd())
	return c
}

func (a *app) tokenCreateCmd() *cobra.Command {
	var server, output string
	var req api.CreateToken
	c := &cobra.Command{
		Use:     "create --name NAME --role ROLE",
		Short:   "Create a token and print its secret, once",
		Example: "  hugai token create --name ci --role deployer --environment production --expires 90d",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			t, err := cl.CreateToken(c.Context(), req)
			if err != nil {
				return apiErr(err)
			}
			return a.print(output, t, func(w io.Writer) error {
				fmt.Fprintf(w, "%s\n", t.Secret)
				fmt.Fprintf(a.errOut, "token %s (subject %s, role %s, %s, %s): the secret above is shown this once\n",
					t.Name, t.Subject, t.Role, scopeText(t.Environment), expiryText(t.ExpiresAt))
				return nil
			})
		},
	}
	addServerFlag(c, &server)
	addOutputFlag(c, &output)
	fl := c.Flags()
	fl.StringVar(&req.Name, "name", "", "the token's name (required): token:NAME in a policy")
	fl.StringVar(&req.Role, "role", "", "the most the token may do: viewer, deployer, approver or admin (required)")
	fl.StringVar(&req.Environment, "environment", "", "the one environment the token may act in (default: all)")
	fl.StringVar(&req.Subject, "subject", "", "whose policy roles the token carries (default: its name)")
	fl.StringVar(&req.Expires, "expires", "", "lifetime: days (90d) or a duration (12h) (default: never)")
	_ = c.MarkFlagRequired("name")
	_ = c.MarkFlagRequired("role")
	return c
}

func (a *app) tokenListCmd() *cobra.Command {
	var server, output string
	c := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			ts, err := cl.Tokens(c.Context())
			if err != nil {
				return apiErr(err)
			}
			return a.print(output, ts, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tSUBJECT\tROLE\tENVIRONMENT\tCREATED\tEXPIRES\tSTATE")
				for _, t := range ts {
					state := "active"
					switch {
					case t.RevokedAt != nil:
						state = "revoked by " + t.RevokedBy
					case t.ExpiresAt != nil && !time.Now().Before(*t.ExpiresAt):
						state = "expired"
					}
					env := t.Environment
					if env == "" {
						env = "*"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s by %s\t%s\t%s\n", t.Name, t.Subject, t.Role, env,
						t.CreatedAt.Format(time.DateOnly), t.CreatedBy, expiryText(t.ExpiresAt), state)
				}
				return tw.Flush()
			})
		},
	}
	addServerFlag(c, &server)
	addOutputFlag(c, &output)
	return c
}

func (a *app) tokenRevokeCmd() *cobra.Command {
	var server string
	c := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			cl, err := connect(server)
			if err != nil {
				return err
			}
			defer cl.Close()
			t, err := cl.RevokeToken(c.Context(), args[0])
			if err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(a.out, "token %s revoked\n", t.Name)
			return nil
		},
	}
	addServerFlag(c, &server)
	return c
}

func scopeText(env string) string {
	if env == "" {
		return "all environments"
	}
	return "environment " + env
}

func expiryText(t *time.Time) string {
	if t == nil {
		return "never expires"
	}
	return "expires " + t.UTC().Format(time.RFC3339)
}
