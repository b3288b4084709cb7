package report

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
)

// Directory is what the report needs from Entra: the accounts, by user id.
type Directory interface {
	// Accounts returns every member of an allow-listed group, and the
	// accounts of userIDs (the contractors') besides. An account that no
	// longer exists comes back with Gone set.
	Accounts(ctx context.Context, userIDs []string) (map[string]Account, error)
}

// Account is a user's account as Entra holds it.
type Account struct {
	ID          string `json:"id"`
	Mail        string `json:"mail,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	Guest       bool   `json:"guest"`
	// Enabled is accountEnabled: false when sign-in is blocked.
	Enabled bool `json:"enabled"`
	// ExternalState is externalUserState: "PendingAcceptance" or
	// "Accepted" for guests; "" when not known.
	ExternalState string    `json:"externalState,omitempty"`
	Created       time.Time `json:"created,omitzero"`
	// Groups are the access keys of the allow-listed groups the account is
	// a member of, in Entra.
	Groups []string `json:"groups"`
	// Sponsors are Entra's sponsors of the account; nil when not read.
	Sponsors []string `json:"sponsors"`
	// SignIns is the account's signInActivity; nil when not known (no
	// AuditLog.Read.All, or no Entra ID P1).
	SignIns *SignIns `json:"signIns"`
	// Gone is set when the account no longer exists.
	Gone bool `json:"gone,omitempty"`
}

// SignIns is an account's last sign-ins, as Graph's signInActivity gives
// them; a zero time is "never".
type SignIns struct {
	LastInteractive    time.Time `json:"lastInteractive,omitzero"`
	LastNonInteractive time.Time `json:"lastNonInteractive,omitzero"`
	LastSuccessful     time.Time `json:"lastSuccessful,omitzero"`
}

// last is the newest of the sign-ins; zero when there was none.
func (s SignIns) last() time.Time {
	t := s.LastInteractive
	for _, u := range []time.Time{s.LastNonInteractive, s.LastSuccessful} {
		if u.After(t) {
			t = u
		}
	}
	return t
}

// Findings are what the sweeps recorded in the ledger.
type Findings struct {
	// SignedInAfterEnd are successful sign-ins after an engagement ended.
	SignedInAfterEnd []SignInAfterEnd `json:"signedInAfterEnd"`
	// Ghosts are the user ids the reconcile found in a managed group
	// without an engagement to justify it, with when it first saw each.
	Ghosts map[string]time.Time `json:"ghosts"`
}

// SignInAfterEnd is a critical finding: a contractor signed in after their
// access had ended.
type SignInAfterEnd struct {
	// Contractor is the contractor key (the lower-cased email).
	Contractor string    `json:"contractor"`
	At         time.Time `json:"at"`
}

// Input is everything the report judges.
type Input struct {
	Now         time.Time
	Contractors []engagement.Contractor
	// Engagements are every engagement of the contractors, ended ones
	// included, in any order.
	Engagements []engagement.Engagement
	// Accounts are Entra's accounts by user id; nil when Entra was not
	// read.
	Accounts map[string]Account
	Findings Findings
	// Covered says, by access key, whether an enabled Conditional Access
	// policy requiring MFA targets the group; nil when not read.
	Covered map[string]bool
	// DormantAfter is STINT_DORMANT_AFTER (0: never dormant);
	// EndingWithin the window of ending-soon (14 days).
	DormantAfter time.Duration
	EndingWithin time.Duration
	// Notes say what could not be read, and why; the report shows them.
	Notes []string
}

// DefaultEndingWithin is the ending-soon window: the 14 days.
const DefaultEndingWithin = 14 * 24 * time.Hour

// Report is the access report.
type Report struct {
	GeneratedAt  time.Time `json:"generatedAt"`
	DormantAfter Duration  `json:"dormantAfter"`
	EndingWithin Duration  `json:"endingWithin"`
	// EntraRead, SignInsKnown and CoverageRead say which columns hold
	// facts and which say "unknown".
	EntraRead    bool     `json:"entraRead"`
	SignInsKnown bool     `json:"signInsKnown"`
	CoverageRead bool     `json:"coverageRead"`
	Notes        []string `json:"notes"`
	Summary      Summary  `json:"summary"`
	Rows         []Row    `json:"rows"`
}

// Duration marshals as Go's duration text ("720h0m0s").
type Duration time.Duration

// String says the duration for people: "30 days", else as Go does.
func (d Duration) String() string {
	if day := 24 * time.Hour; d > 0 && time.Duration(d)%day == 0 {
		return strconv.Itoa(int(time.Duration(d)/day)) + " days"
	}
	return time.Duration(d).String()
}

// MarshalText writes the duration as time.Duration prints it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("report: duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// Summary are the figures at the top of the report.
type Summary struct {
	Contractors int `json:"contractors"`
	Active      int `json:"active"`
	EndingSoon  int `json:"endingSoon"`
	Ghosts      int `json:"ghosts"`
	Drift       int `json:"drift"`
	Dormant     int `json:"dormant"`
	Unredeemed  int `json:"unredeemed"`
	NotCovered  int `json:"notCovered"`
	// Critical counts the rows with a sign-in after the end.
	Critical int `json:"critical"`
}

// Row is one contractor, or one ghost account.
type Row struct {
	// Contractor is the contractor key; "" for a ghost.
	Contractor string `json:"contractor"`
	Name       string `json:"name"`
	Email      string `json:"email"`
	Company    string `json:"company"`
	UserID     string `json:"userId"`
	// Sponsor is the event's sponsor (the newest engagement's);
	// EntraSponsors Entra's, nil when not read.
	Sponsor       string   `json:"sponsor"`
	EntraSponsors []string `json:"entraSponsors"`
	// Status is the contractor's: active when an engagement is, else
	// pending when one is, else ended ("" for a ghost).
	Status      engagement.Status `json:"status"`
	Engagements []Engagement      `json:"engagements"`
	// Groups are the access keys of the groups the account is in, in
	// Entra; nil when not read.
	Groups     []string `json:"groups"`
	Account    string   `json:"account"`
	Invitation string   `json:"invitation"`
	// Created is when Entra created the account.
	Created time.Time `json:"created,omitzero"`
	// SignIns is nil when not known.
	SignIns *SignIns `json:"signIns"`
	// SignedInAfterEnd is the newest sign-in after the end, if any.
	SignedInAfterEnd time.Time `json:"signedInAfterEnd,omitzero"`
	// GhostSince is when the reconcile first saw the ghost, if it did.
	GhostSince time.Time `json:"ghostSince,omitzero"`
	Flags      []Flag    `json:"flags"`
}

// Engagement is one engagement of a row.
type Engagement struct {
	ID     string            `json:"id"`
	Start  time.Time         `json:"start,omitzero"`
	End    time.Time         `json:"end,omitzero"`
	Status engagement.Status `json:"status"`
	Source string            `json:"source"`
	Access []string          `json:"access"`
}

// Has reports whether the row carries flag f.
func (r Row) Has(f Flag) bool { return slices.Contains(r.Flags, f) }

// Build judges the input at in.Now.
func Build(in Input) Report {
	if in.EndingWithin == 0 {
		in.EndingWithin = DefaultEndingWithin
	}
	rep := Report{
		GeneratedAt: in.Now.UTC(), DormantAfter: Duration(in.DormantAfter), EndingWithin: Duration(in.EndingWithin),
		EntraRead: in.Accounts != nil, CoverageRead: in.Covered != nil, Notes: nonNil(in.Notes), Rows: []Row{},
	}
	engs := map[string][]engagement.Engagement{}
	for _, e := range in.Engagements {
		engs[e.Contractor] = append(engs[e.Contractor], e)
	}
	known := map[string]bool{}
	for _, c := range in.Contractors {
		if c.UserID != "" {
			known[c.UserID] = true
		}
		rep.Rows = append(rep.Rows, contractorRow(in, c, engs[c.Key]))
	}
	slices.SortFunc(rep.Rows, func(a, b Row) int { return strings.Compare(a.Contractor, b.Contractor) })
	rep.Rows = append(rep.Rows, ghostRows(in, known)...)
	for _, r := range rep.Rows {
		if r.SignIns != nil {
			rep.SignInsKnown = true
		}
	}
	if !rep.SignInsKnown {
		rep.Notes = append(rep.Notes, "Sign-in activity is unknown (it needs AuditLog.Read.All and Entra ID P1): dormant is not judged.")
	}
	rep.Summary = summarise(rep.Rows)
	return rep
}

// contractorRow is a contractor's row.
func contractorRow(in Input, c engagement.Contractor, engs []engagement.Engagement) Row {
	slices.SortFunc(engs, func(a, b engagement.Engagement) int {
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), strings.Compare(a.ID, b.ID))
	})
	r := Row{Contractor: c.Key, Email: c.Key, UserID: c.UserID, Engagements: []Engagement{}, Status: engagement.Ended}
	for _, e := range engs {
		st := e.StatusAt(in.Now)
		r.Engagements = append(r.Engagements, Engagement{ID: e.ID, Start: e.StartsAt, End: e.EndsAt, Status: st, Source: e.Source, Access: nonNil(slices.Clone(e.Access))})
		if st == engagement.Active || (st == engagement.Pending && r.Status != engagement.Active) {
			r.Status = st
		}
		// The newest engagement names the contractor today.
		r.Name, r.Email, r.Company, r.Sponsor = cmp.Or(e.DisplayName, r.Name), cmp.Or(e.Email, r.Email), cmp.Or(e.Company, r.Company), cmp.Or(e.Sponsor, r.Sponsor)
	}
	a, read := account(in, c.UserID)
	r.Account, r.Invitation = accountState(c, a, read), invitation(a, read)
	if read && !a.Gone {
		r.Groups, r.Created, r.SignIns, r.EntraSponsors = nonNil(slices.Clone(a.Groups)), a.Created, a.SignIns, a.Sponsors
		r.Name = cmp.Or(r.Name, a.DisplayName)
	} else if read {
		r.Groups = []string{}
	}
	for _, f := range in.Findings.SignedInAfterEnd {
		if f.Contractor == c.Key && f.At.After(r.SignedInAfterEnd) {
			r.SignedInAfterEnd = f.At
		}
	}
	r.Flags = flags(in, r)
	return r
}

// ghostRows are the accounts in an allow-listed group that no contractor
// record names, and the ghosts the reconcile recorded, by user id.
func ghostRows(in Input, known map[string]bool) []Row {
	ids := map[string]bool{}
	for id, a := range in.Accounts {
		if len(a.Groups) > 0 && !a.Gone && !known[id] {
			ids[id] = true
		}
	}
	for id := range in.Findings.Ghosts {
		if !known[id] {
			ids[id] = true
		}
	}
	var rows []Row
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		a, read := account(in, id)
		r := Row{UserID: id, Engagements: []Engagement{}, GhostSince: in.Findings.Ghosts[id], Invitation: invitation(a, read)}
		r.Account = accountState(engagement.Contractor{UserID: id}, a, read)
		if read && !a.Gone {
			r.Name, r.Email, r.Groups, r.Created, r.SignIns, r.EntraSponsors = a.DisplayName, a.Mail, nonNil(slices.Clone(a.Groups)), a.Created, a.SignIns, a.Sponsors
		}
		r.Flags = append([]Flag{Ghost}, flags(in, r)...)
		rows = append(rows, r)
	}
	return rows
}

// account is the user's account, and whether Entra said anything of it.
func account(in Input, userID string) (Account, bool) {
	if userID == "" || in.Accounts == nil {
		return Account{}, false
	}
	a, ok := in.Accounts[userID]
	return a, ok
}

// The account states.
const (
	StateEnabled        = "enabled"
	StateBlockedByStint = "blocked by stint"
	StateBlockedByAdmin = "blocked by an admin"
	StateGone           = "not in Entra"
	StateNoAccount      = "no account"
	StateUnknown        = "unknown"
)

// accountState names the account's state (see the package doc).
func accountState(c engagement.Contractor, a Account, read bool) string {
	switch {
	case c.UserID == "":
		return StateNoAccount
	case !read:
		return StateUnknown
	case a.Gone:
		return StateGone
	case a.Enabled:
		return StateEnabled
	case c.DisabledByStint:
		return StateBlockedByStint
	}
	return StateBlockedByAdmin
}

// The invitation states.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	// InvitationNone is a member account: it was never invited.
	InvitationNone    = "member (not invited)"
	InvitationUnknown = "unknown"
)

// invitation names the state of the account's invitation.
func invitation(a Account, read bool) string {
	switch {
	case !read || a.Gone:
		return InvitationUnknown
	case !a.Guest:
		return InvitationNone
	case a.ExternalState == "PendingAcceptance":
		return InvitationPending
	case a.ExternalState == "Accepted":
		return InvitationAccepted
	}
	return InvitationUnknown
}

// summarise counts the rows.
func summarise(rows []Row) Summary {
	var s Summary
	for _, r := range rows {
		if r.Contractor != "" {
			s.Contractors++
		}
		if r.Status == engagement.Active {
			s.Active++
		}
		count := map[Flag]*int{Ghost: &s.Ghosts, Drift: &s.Drift, Dormant: &s.Dormant, Unredeemed: &s.Unredeemed,
			EndingSoon: &s.EndingSoon, NotCovered: &s.NotCovered, SignedInAfterEnd: &s.Critical}
		for _, f := range r.Flags {
			*count[f]++
		}
	}
	return s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
