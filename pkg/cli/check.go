package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/wire"
)

func checkCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Check the configuration, credentials, Graph permissions and the allow-listed groups",
		Long: `Loads the configuration (STINT_*, AZURE_*; see stint config), gets a token for
Graph, compares the application permissions it carries with the five stint
needs, and reads every allow-listed group. Says precisely what is missing;
exits 1 if anything is. On a data directory served with --sandbox (or with
--sandbox), it checks the sandbox tenant, through the running stint serve when
one owns the directory.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			checks, err := g.runChecks(cmd.Context())
			if err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if !c.OK {
					failed++
				}
			}
			if g.asJSON {
				if err := g.printJSON(nonNil(checks)); err != nil {
					return err
				}
			} else {
				for _, c := range checks {
					mark := "ok     "
					switch {
					case !c.OK:
						mark = "MISSING"
					case c.Warning:
						mark = "warning"
					}
					fmt.Fprintf(g.out, "%s  %-32s %s\n", mark, c.What, c.Detail)
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d check(s) failed", failed)
			}
			return nil
		},
	}
}

// runChecks checks the sandbox through a host (the data directory's own,
// or the running serve's), or the configured tenant directly.
func (g *globals) runChecks(ctx context.Context) ([]host.Check, error) {
	if g.onSandbox() {
		var checks []host.Check
		err := g.withTenant(ctx, func(h *host.Host) error {
			checks = h.Check(ctx)
			return nil
		}, func() (err error) {
			checks, err = host.RemoteCheck(ctx, g.data)
			return err
		})
		return checks, err
	}
	if err := host.TenantConfigured(g.cfg); err != nil {
		return nil, err
	}
	dir, err := wire.Directory(g.cfg, nil, 0)
	if err != nil {
		return nil, err
	}
	return host.CheckTenant(ctx, dir, g.cfg.Groups), nil
}
