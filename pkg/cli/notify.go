package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/notify"
)

func notifyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "notify", Short: "The notifications stint sends: list the outbox"}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the notification outbox: pending, retrying, sent and given up",
		Long: `Lists the notifications in the ledger's outbox, oldest first, with where
their delivery stands: pending (not tried yet), retrying (failed; NEXT/SENT is
the next attempt), sent (NEXT/SENT is when the receiver took it) or given-up
(refused by the receiver, or still failing after a day; ERROR says why).
Sent and given-up entries are kept for 90 days.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := host.OpenExisting(cmd.Context(), g.cfg, g.data)
			if err != nil {
				return err
			}
			defer l.Close()
			entries, err := (&notify.Outbox{Ledger: l}).List(cmd.Context())
			if err != nil {
				return err
			}
			if g.asJSON {
				return g.printJSON(nonNil(entries))
			}
			w := tabwriter.NewWriter(g.out, 2, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tTYPE\tSUBJECT\tSTATE\tATTEMPTS\tNEXT/SENT\tERROR")
			for _, e := range entries {
				n := e.Notification
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", n.ID, strings.TrimPrefix(string(n.Type), "dev.stint."), dash(n.Subject),
					e.State, e.Attempts, when(e), dash(e.LastError))
			}
			return w.Flush()
		},
	})
	needsSubcommand(cmd)
	return cmd
}

// when is an entry's next attempt, or when it was sent.
func when(e notify.Entry) string {
	var t time.Time
	switch e.State {
	case notify.Sent:
		t = e.SentAt
	case notify.Retrying:
		t = e.NextAttempt
	case notify.Pending:
		return "now"
	}
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
