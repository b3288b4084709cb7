package report_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/report"
)

var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// good is one contractor in good standing: an active engagement granting
// "a", whose group Entra shows, covered by Conditional Access, signed in
// yesterday, invitation accepted.
func good() report.Input {
	return report.Input{
		Now:          now,
		Contractors:  []engagement.Contractor{{Key: "c@x.example", UserID: "u-c", Guest: true, Granted: []string{"a"}}},
		Engagements:  []engagement.Engagement{eng("E-1", "c@x.example", -40*day, 60*day, "a")},
		Accounts:     map[string]report.Account{"u-c": {ID: "u-c", Guest: true, Enabled: true, ExternalState: "Accepted", Groups: []string{"a"}, SignIns: &report.SignIns{LastInteractive: now.Add(-day)}}},
		Covered:      map[string]bool{"a": true, "b": true},
		DormantAfter: 30 * day,
		EndingWithin: 14 * day,
	}
}

// eng is a granted engagement from now+from to now+to.
func eng(id, contractor string, from, to time.Duration, access ...string) engagement.Engagement {
	return engagement.Engagement{ID: id, Contractor: contractor, Email: contractor, DisplayName: "C", Company: "Acme", Sponsor: "boss@corp.example",
		Source: "hr", Access: access, StartsAt: now.Add(from), EndsAt: now.Add(to), Started: true}
}

// account edits the account of u-c.
func account(in *report.Input, edit func(*report.Account)) {
	a := in.Accounts["u-c"]
	edit(&a)
	in.Accounts["u-c"] = a
}

// row is the report's row of c@x.example.
func row(tb testing.TB, rep report.Report) report.Row {
	tb.Helper()
	for _, r := range rep.Rows {
		if r.Contractor == "c@x.example" {
			return r
		}
	}
	tb.Fatalf("no row for c@x.example in %+v", rep.Rows)
	return report.Row{}
}

func TestFlagRules(t *testing.T) {
	tests := []struct {
		name string
		flag report.Flag
		edit func(*report.Input)
		want bool
	}{
		{"in good standing: no drift", report.Drift, func(*report.Input) {}, false},
		{"a group no engagement justifies is drift", report.Drift, func(in *report.Input) { account(in, func(a *report.Account) { a.Groups = []string{"a", "b"} }) }, true},
		{"a group the active engagement wants, missing in Entra, is drift", report.Drift, func(in *report.Input) { account(in, func(a *report.Account) { a.Groups = []string{} }) }, true},
		{"an ended engagement whose group Entra still shows is drift", report.Drift, func(in *report.Input) { in.Engagements[0] = eng("E-1", "c@x.example", -40*day, -day, "a") }, true},
		{"an ended engagement, no group: no drift", report.Drift, func(in *report.Input) {
			in.Engagements[0] = eng("E-1", "c@x.example", -40*day, -day, "a")
			account(in, func(a *report.Account) { a.Groups = []string{} })
		}, false},
		{"Entra not read: no drift", report.Drift, func(in *report.Input) { in.Accounts = nil }, false},
		{"a deleted account with an active engagement is drift", report.Drift, func(in *report.Input) { in.Accounts["u-c"] = report.Account{ID: "u-c", Gone: true} }, true},

		{"signed in yesterday: not dormant", report.Dormant, func(*report.Input) {}, false},
		{"no sign-in for 31 days of 30 is dormant", report.Dormant, func(in *report.Input) {
			account(in, func(a *report.Account) { a.SignIns = &report.SignIns{LastInteractive: now.Add(-31 * day)} })
		}, true},
		{"no interactive sign-in for 31 days but a non-interactive one yesterday: not dormant", report.Dormant, func(in *report.Input) {
			account(in, func(a *report.Account) {
				a.SignIns = &report.SignIns{LastInteractive: now.Add(-31 * day), LastNonInteractive: now.Add(-day)}
			})
		}, false},
		{"never signed in, started 40 days ago, is dormant", report.Dormant, func(in *report.Input) { account(in, func(a *report.Account) { a.SignIns = &report.SignIns{} }) }, true},
		{"never signed in, started 5 days ago: not dormant yet", report.Dormant, func(in *report.Input) {
			account(in, func(a *report.Account) { a.SignIns = &report.SignIns{} })
			in.Engagements[0] = eng("E-1", "c@x.example", -5*day, 60*day, "a")
		}, false},
		{"unknown sign-ins never flag", report.Dormant, func(in *report.Input) { account(in, func(a *report.Account) { a.SignIns = nil }) }, false},
		{"ended: not dormant", report.Dormant, func(in *report.Input) {
			account(in, func(a *report.Account) { a.SignIns = &report.SignIns{} })
			in.Engagements[0] = eng("E-1", "c@x.example", -40*day, -day, "a")
		}, false},
		{"a threshold of 0 turns dormant off", report.Dormant, func(in *report.Input) {
			account(in, func(a *report.Account) { a.SignIns = &report.SignIns{} })
			in.DormantAfter = 0
		}, false},

		{"invitation accepted: not unredeemed", report.Unredeemed, func(*report.Input) {}, false},
		{"invitation pending is unredeemed", report.Unredeemed, func(in *report.Input) { account(in, func(a *report.Account) { a.ExternalState = "PendingAcceptance" }) }, true},
		{"a member was never invited: not unredeemed", report.Unredeemed, func(in *report.Input) {
			account(in, func(a *report.Account) { a.Guest, a.ExternalState = false, "" })
		}, false},

		{"ends in 60 days: not ending soon", report.EndingSoon, func(*report.Input) {}, false},
		{"ends in 7 days is ending soon", report.EndingSoon, func(in *report.Input) { in.Engagements[0] = eng("E-1", "c@x.example", -40*day, 7*day, "a") }, true},
		{"ends in 7 days, a follow-up engagement runs on: not ending soon", report.EndingSoon, func(in *report.Input) {
			in.Engagements = []engagement.Engagement{eng("E-1", "c@x.example", -40*day, 7*day, "a"), eng("E-2", "c@x.example", 7*day, 90*day, "a")}
		}, false},
		{"pending, ends within the window: not ending soon", report.EndingSoon, func(in *report.Input) { in.Engagements[0] = eng("E-1", "c@x.example", day, 7*day, "a") }, false},
		{"ended: not ending soon", report.EndingSoon, func(in *report.Input) { in.Engagements[0] = eng("E-1", "c@x.example", -40*day, -day, "a") }, false},

		{"no finding: not signed in after the end", report.SignedInAfterEnd, func(*report.Input) {}, false},
		{"a finding is signed in after the end", report.SignedInAfterEnd, func(in *report.Input) {
			in.Findings.SignedInAfterEnd = []report.SignInAfterEnd{{Contractor: "c@x.example", At: now.Add(-time.Hour)}}
		}, true},
		{"another contractor's finding: not this one's", report.SignedInAfterEnd, func(in *report.Input) {
			in.Findings.SignedInAfterEnd = []report.SignInAfterEnd{{Contractor: "d@x.example", At: now.Add(-time.Hour)}}
		}, false},

		{"every group covered: covered", report.NotCovered, func(*report.Input) {}, false},
		{"a group no policy targets is not covered", report.NotCovered, func(in *report.Input) { in.Covered["a"] = false }, true},
		{"coverage not read: not judged", report.NotCovered, func(in *report.Input) { in.Covered = nil }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good()
			tt.edit(&in)
			r := row(t, report.Build(in))
			if got := r.Has(tt.flag); got != tt.want {
				t.Errorf("%s = %v, want %v (flags %v)", tt.flag, got, tt.want, r.Flags)
			}
			if r.Has(report.Ghost) {
				t.Errorf("a contractor's row is flagged ghost: %v", r.Flags)
			}
		})
	}
}

func TestGhostRows(t *testing.T) {
	in := good()
	in.Accounts["u-ghost"] = report.Account{ID: "u-ghost", Mail: "g@evil.example", Enabled: true, Groups: []string{"a"}}
	in.Accounts["u-bystander"] = report.Account{ID: "u-bystander", Enabled: true, Groups: []string{}}
	in.Findings.Ghosts = map[string]time.Time{"u-recorded": now.Add(-2 * day), "u-c": now.Add(-day)}
	rep := report.Build(in)
	var ghosts []string
	for _, r := range rep.Rows {
		if r.Has(report.Ghost) {
			ghosts = append(ghosts, r.UserID)
		}
	}
	if want := []string{"u-ghost", "u-recorded"}; !slices.Equal(ghosts, want) {
		t.Errorf("ghost rows = %v, want %v (an unknown member, and the ghost the reconcile recorded; not a contractor, nor an account in no group)", ghosts, want)
	}
	if rep.Summary.Ghosts != 2 || rep.Summary.Contractors != 1 {
		t.Errorf("summary = %+v, want 2 ghosts and 1 contractor", rep.Summary)
	}
	last := rep.Rows[len(rep.Rows)-1]
	if !last.GhostSince.Equal(now.Add(-2*day)) || last.Account != report.StateUnknown {
		t.Errorf("recorded ghost: since %v, account %q; want %v and unknown (Entra shows it in no group now)", last.GhostSince, last.Account, now.Add(-2*day))
	}
}

func TestAccountAndInvitationStates(t *testing.T) {
	tests := []struct {
		name                string
		edit                func(*report.Input)
		account, invitation string
	}{
		{"enabled guest", func(*report.Input) {}, report.StateEnabled, report.InvitationAccepted},
		{"disabled by stint", func(in *report.Input) {
			account(in, func(a *report.Account) { a.Enabled = false })
			in.Contractors[0].DisabledByStint, in.Contractors[0].Blocked = true, true
		}, report.StateBlockedByStint, report.InvitationAccepted},
		{"found disabled by stint, not switched off by it", func(in *report.Input) {
			account(in, func(a *report.Account) { a.Enabled = false })
			in.Contractors[0].Blocked = true
		}, report.StateBlockedByAdmin, report.InvitationAccepted},
		{"disabled by an admin", func(in *report.Input) { account(in, func(a *report.Account) { a.Enabled = false }) }, report.StateBlockedByAdmin, report.InvitationAccepted},
		{"deleted", func(in *report.Input) { in.Accounts["u-c"] = report.Account{ID: "u-c", Gone: true} }, report.StateGone, report.InvitationUnknown},
		{"not found or invited yet", func(in *report.Input) { in.Contractors[0].UserID = "" }, report.StateNoAccount, report.InvitationUnknown},
		{"Entra not read", func(in *report.Input) { in.Accounts = nil }, report.StateUnknown, report.InvitationUnknown},
		{"invitation pending", func(in *report.Input) { account(in, func(a *report.Account) { a.ExternalState = "PendingAcceptance" }) }, report.StateEnabled, report.InvitationPending},
		{"member", func(in *report.Input) { account(in, func(a *report.Account) { a.Guest = false }) }, report.StateEnabled, report.InvitationNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good()
			tt.edit(&in)
			r := row(t, report.Build(in))
			if r.Account != tt.account || r.Invitation != tt.invitation {
				t.Errorf("account, invitation = %q, %q; want %q, %q", r.Account, r.Invitation, tt.account, tt.invitation)
			}
		})
	}
}

// The row carries what the ledger and Entra say: the newest engagement's
// profile and sponsor, Entra's groups and sponsors, every engagement.
func TestRowContents(t *testing.T) {
	in := good()
	old := eng("E-0", "c@x.example", -400*day, -300*day, "a")
	old.Sponsor, old.Company = "old@corp.example", "Old Co"
	in.Engagements = append(in.Engagements, old)
	account(&in, func(a *report.Account) {
		a.Sponsors, a.Created = []string{"entra-boss@corp.example"}, now.Add(-400*day)
	})
	r := row(t, report.Build(in))
	if r.Sponsor != "boss@corp.example" || r.Company != "Acme" {
		t.Errorf("sponsor, company = %q, %q; want the newest engagement's", r.Sponsor, r.Company)
	}
	if !slices.Equal(r.EntraSponsors, []string{"entra-boss@corp.example"}) || !r.Created.Equal(now.Add(-400*day)) {
		t.Errorf("Entra sponsors %v, created %v: want Entra's", r.EntraSponsors, r.Created)
	}
	if len(r.Engagements) != 2 || r.Engagements[0].ID != "E-0" || r.Engagements[0].Status != engagement.Ended || r.Engagements[1].Status != engagement.Active {
		t.Errorf("engagements = %+v, want E-0 ended then E-1 active", r.Engagements)
	}
	if r.Status != engagement.Active || !r.Ends().Equal(now.Add(60*day)) {
		t.Errorf("status %s, ends %v; want active until %v", r.Status, r.Ends(), now.Add(60*day))
	}
}
