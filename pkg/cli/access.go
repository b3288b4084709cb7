package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/host"
)

// AccessRow is one line of stint access: an engagement stint has not
// applied as ended, and the contractor's account as stint last left it.
//
// It shows what stint has applied, not what the dates say: an engagement
// whose end date has passed keeps its groups until the tick (or an event)
// removes them — within a second or two under stint serve, up to a minute
// on AWS — and is listed until then.
type AccessRow struct {
	Contractor string `json:"contractor"`
	Engagement string `json:"engagement"`
	// Status reads State against Dates: "active", "pending", or, while
	// the two differ, what stint has still to do: "ending: removal
	// pending" (the dates say ended, the groups are still held), "starting:
	// grant pending", "postponed: removal pending", "ending: not yet
	// recorded" (it never became active).
	Status string `json:"status"`
	// State is what stint last applied (Engagement.State); Dates is what
	// the dates say now (Engagement.StatusAt).
	State engagement.Status `json:"state"`
	Dates engagement.Status `json:"dates"`
	From  time.Time         `json:"from"`
	Until time.Time         `json:"until"`
	// Sponsor is who vouches for the engagement.
	Sponsor string `json:"sponsor,omitempty"`
	// Groups are the access keys whose groups stint has granted the
	// contractor (the contractor record), across all their engagements:
	// what the account holds, as far as stint knows.
	Groups []string `json:"groups"`
	// Access lists the access keys this engagement grants while active.
	Access []string `json:"access"`
	// Account is the account as stint left it (see accountState).
	Account string `json:"account"`
	UserID  string `json:"userId,omitempty"`
	Guest   bool   `json:"guest"`
	// Entra is the account as Entra holds it, when it was read; nil when
	// not (Access reads the ledger only).
	Entra *EntraAccount `json:"entra,omitempty"`
}

// EntraAccount is a contractor's account as Entra holds it at the time of
// reading: what an administrator may have changed behind stint's back (a
// blocked sign-in, a membership removed by hand). It is read from the
// members of the allow-listed groups (cheap: a request per 999 members),
// so an account in none of them shows no sign-in state.
type EntraAccount struct {
	// Enabled is accountEnabled: false when sign-in is blocked; nil when
	// the account is in no allow-listed group (not seen).
	Enabled *bool `json:"enabled,omitempty"`
	// Groups are the allow-listed access keys the account is a member of.
	Groups []string `json:"groups"`
}

// withEntra fills each row's Entra from the accounts read, by user id.
func withEntra(rows []AccessRow, accounts map[string]host.Account) {
	for i := range rows {
		if rows[i].UserID == "" {
			continue
		}
		e := &EntraAccount{Groups: []string{}}
		if a, ok := accounts[rows[i].UserID]; ok {
			e.Enabled, e.Groups = &a.Enabled, a.Groups
		}
		rows[i].Entra = e
	}
}

// Access lists, by contractor, every engagement stint has not applied as
// ended (or whose dates say it is live again), with the applied state,
// what the dates say, the groups stint granted and the account as stint
// left it. now judges the dates.
func Access(ctx context.Context, l engagement.Ledger, now time.Time) ([]AccessRow, error) {
	rows := []AccessRow{}
	for c, err := range l.Contractors(ctx) {
		if err != nil {
			return nil, fmt.Errorf("access: read contractors: %w", err)
		}
		engs, err := l.ContractorEngagements(ctx, c.Key)
		if err != nil {
			return nil, fmt.Errorf("access: read the engagements of %s: %w", c.Key, err)
		}
		for _, e := range engs {
			dates := e.StatusAt(now)
			if e.State == engagement.Ended && dates == engagement.Ended {
				continue
			}
			rows = append(rows, AccessRow{
				Contractor: c.Key, Engagement: e.ID, Status: appliedStatus(e.State, dates), State: e.State, Dates: dates,
				From: e.StartsAt, Until: e.EndsAt, Sponsor: e.Sponsor, Groups: nonNil(slices.Clone(c.Granted)),
				Access: nonNil(slices.Clone(e.Access)), Account: accountState(c), UserID: c.UserID, Guest: c.Guest,
			})
		}
	}
	slices.SortFunc(rows, func(a, b AccessRow) int {
		return cmp.Or(strings.Compare(a.Contractor, b.Contractor), strings.Compare(a.Engagement, b.Engagement))
	})
	return rows, nil
}

// appliedStatus names an engagement's state as stint applied it, and what
// it has still to do when the dates say otherwise. The groups follow State
// (applied), not the dates.
func appliedStatus(state, dates engagement.Status) string {
	switch {
	case state == dates:
		return string(state)
	case dates == engagement.Active:
		return "starting: grant pending"
	case state == engagement.Active && dates == engagement.Ended:
		return "ending: removal pending"
	case state == engagement.Active:
		return "postponed: removal pending"
	case dates == engagement.Ended:
		return "ending: not yet recorded"
	}
	return string(dates)
}

// entraState says how Entra holds the account, when it was read.
func entraState(e *EntraAccount) string {
	switch {
	case e == nil:
		return "-"
	case e.Enabled == nil:
		return "in no group"
	case !*e.Enabled:
		return "sign-in BLOCKED; in " + strings.Join(e.Groups, ",")
	}
	return "enabled; in " + strings.Join(e.Groups, ",")
}

// accountState is the account as stint left it, from the contractor
// record. stint knows what it did, not what an administrator did since:
// "not blocked by stint" is not "enabled" (that takes a read of Entra).
func accountState(c engagement.Contractor) string {
	switch {
	case c.UserID == "":
		return "no account yet"
	case c.DisabledByStint:
		return "blocked by stint"
	case c.Blocked && c.Guest:
		return "blocked, not by stint (stint will not re-enable it)"
	case c.Blocked:
		return "sessions revoked (member, left enabled)"
	}
	return "not blocked by stint"
}

func accessCmd(g *globals) *cobra.Command {
	var readEntra bool
	cmd := &cobra.Command{
		Use:   "access",
		Short: "Who holds access as stint applied it: status, until when, sponsor, account, groups",
		Long: `Lists every engagement stint has not yet applied as ended, by contractor. STATUS
is what stint has applied, not only what the dates say: an engagement past its
end date reads "ending: removal pending" until the tick (within a minute)
removes its groups. ACCOUNT and GROUPS are the contractor's account as stint
left it (blocked or not, the groups it granted). ENTRA is the account as Entra
holds it now, read from the members of the allow-listed groups (through the
running stint serve, if one owns the data directory): a sign-in an
administrator blocked, a group removed by hand. --entra=false skips the read;
when Entra cannot be read the table says why and shows the rest.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, _, err := g.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer l.Close()
			rows, err := Access(cmd.Context(), l, time.Now())
			if err != nil {
				return err
			}
			if readEntra {
				var accounts map[string]host.Account
				err := g.withTenant(cmd.Context(), func(h *host.Host) (err error) {
					accounts, err = h.Accounts(cmd.Context())
					return err
				}, func() (err error) {
					accounts, err = host.RemoteAccounts(cmd.Context(), g.data)
					return err
				})
				if err != nil {
					fmt.Fprintf(g.errOut, "stint: Entra not read (%v): ENTRA is not shown\n", err)
				} else {
					withEntra(rows, accounts)
				}
			}
			if g.asJSON {
				return g.printJSON(rows)
			}
			return printAccess(g.out, rows)
		},
	}
	cmd.Flags().BoolVar(&readEntra, "entra", true, "read the accounts as Entra holds them")
	return cmd
}

// printAccess prints the rows as a table.
func printAccess(out io.Writer, rows []AccessRow) error {
	w := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONTRACTOR\tENGAGEMENT\tSTATUS\tUNTIL\tSPONSOR\tACCOUNT\tGROUPS GRANTED\tENTRA")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Contractor, r.Engagement, r.Status, r.Until.Local().Format("2006-01-02 15:04"),
			dash(r.Sponsor), r.Account, dash(strings.Join(r.Groups, ",")), entraState(r.Entra))
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "(nobody)")
	}
	return w.Flush()
}
