package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/config"
)

// ConfigRow is one line of stint config.
type ConfigRow struct {
	Name   string        `json:"name"`
	Value  string        `json:"value"`
	Source config.Source `json:"source"`
	Secret bool          `json:"secret"`
	ReadBy []string      `json:"readBy"`
}

func configCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "The effective configuration: every setting, its value and where it came from",
		Long: `Prints every setting the stint command reads, its value (secrets masked), where
it came from (environment, default, unset) and which binaries read it, then any
problem with them, one line each. The reference is the README's table,
generated from the same declaration.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rows := []ConfigRow{}
			for _, v := range g.cfg.Values {
				by := make([]string, len(v.ReadBy))
				for i, b := range v.ReadBy {
					by[i] = string(b)
				}
				rows = append(rows, ConfigRow{Name: v.Name, Value: v.Shown(), Source: v.Source, Secret: v.Secret, ReadBy: by})
			}
			if g.asJSON {
				if err := g.printJSON(rows); err != nil {
					return err
				}
			} else {
				w := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
				fmt.Fprintln(w, "VARIABLE\tVALUE\tFROM\tREAD BY")
				for _, r := range rows {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.Name, dash(r.Value), r.Source, strings.Join(r.ReadBy, ","))
				}
				if err := w.Flush(); err != nil {
					return err
				}
			}
			if g.cfgErr != nil {
				return fmt.Errorf("the configuration has problems:\n%w", g.cfgErr)
			}
			return nil
		},
	}
}
