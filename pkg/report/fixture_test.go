package report_test

import (
	"fmt"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/report"
)

// fifty is a tenant of 50 contractors and 3 ghosts in which every flag is
// represented: contractor i's case is i mod 10.
func fifty() report.Input {
	in := report.Input{
		Now: now, Accounts: map[string]report.Account{}, DormantAfter: 30 * day, EndingWithin: 14 * day,
		Covered:  map[string]bool{"contractor-access": true, "finance-app": true, "legacy-vpn": false},
		Findings: report.Findings{Ghosts: map[string]time.Time{"u-ghost-0": now.Add(-3 * day)}},
	}
	for i := range 50 {
		key := fmt.Sprintf("person%02d@vendor%d.example", i, i%4)
		uid := fmt.Sprintf("u-%02d", i)
		e := eng(fmt.Sprintf("ENG-%03d", i), key, -time.Duration(20+i)*day, time.Duration(30+2*i)*day, "contractor-access")
		e.DisplayName, e.Company = fmt.Sprintf("Person %02d", i), fmt.Sprintf("Vendor %d", i%4)
		c := engagement.Contractor{Key: key, UserID: uid, Guest: true, Granted: []string{"contractor-access"}}
		a := report.Account{ID: uid, Mail: key, DisplayName: e.DisplayName, Guest: true, Enabled: true, ExternalState: "Accepted",
			Created: e.StartsAt, Groups: []string{"contractor-access"}, SignIns: &report.SignIns{LastInteractive: now.Add(-day), LastNonInteractive: now.Add(-time.Hour)}}
		switch i % 10 {
		case 1: // ending soon
			e.EndsAt = now.Add(time.Duration(i%7+1) * day)
		case 2: // dormant
			a.SignIns = &report.SignIns{LastInteractive: now.Add(-45 * day)}
			e.StartsAt = now.Add(-90 * day)
		case 3: // unredeemed
			a.ExternalState = "PendingAcceptance"
			a.SignIns = &report.SignIns{}
			e.StartsAt = now.Add(-3 * day)
		case 4: // drift: a group no engagement justifies
			a.Groups = append(a.Groups, "finance-app")
		case 5: // ended, blocked by stint; one signed in after the end
			e.StartsAt, e.EndsAt = now.Add(-200*day), now.Add(-time.Duration(i)*day)
			a.Enabled, a.Groups, c.DisabledByStint, c.Blocked, c.Granted = false, []string{}, true, true, nil
			if i == 5 {
				in.Findings.SignedInAfterEnd = append(in.Findings.SignedInAfterEnd, report.SignInAfterEnd{Contractor: key, At: e.EndsAt.Add(time.Hour)})
			}
		case 6: // not covered: access through a group no policy targets
			e.Access, a.Groups = []string{"legacy-vpn"}, []string{"legacy-vpn"}
		case 7: // pending: starts later, no group yet
			e.StartsAt, e.EndsAt = now.Add(time.Duration(i)*day), now.Add(120*day)
			a.Groups = []string{}
		case 8: // blocked by an admin, sign-ins unknown
			a.Enabled, a.SignIns = false, nil
		}
		in.Contractors, in.Engagements = append(in.Contractors, c), append(in.Engagements, e)
		in.Accounts[uid] = a
	}
	// A name a spreadsheet would run, and one a browser would.
	in.Engagements[0].DisplayName = "=HYPERLINK(\"x\")"
	in.Engagements[10].DisplayName = "<script>alert(1)</script> O'Brien & Co"
	for i := range 3 {
		id := fmt.Sprintf("u-ghost-%d", i)
		in.Accounts[id] = report.Account{ID: id, Mail: fmt.Sprintf("ghost%d@elsewhere.example", i), DisplayName: fmt.Sprintf("Ghost %d", i),
			Guest: true, Enabled: true, ExternalState: "Accepted", Groups: []string{"contractor-access"}}
	}
	return in
}
