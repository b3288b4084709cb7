package engagement

import (
	"slices"
	"time"
)

// Contractor is what stint has applied to one person's directory account,
// across all their engagements.
type Contractor struct {
	// Key is the lower-cased email.
	Key string `json:"key"`
	// UserID is the Entra object id, once found or invited.
	UserID string `json:"userId,omitempty"`
	// Guest is true for a B2B guest (userType Guest), false for a member.
	Guest bool `json:"guest"`
	// Granted lists the access keys whose groups stint has added the user to.
	Granted []string `json:"granted"`
	// Blocked is set once stint has taken the no-access measures (blocked
	// sign-in of a guest, revoked a member's sessions) after the last
	// engagement ended.
	Blocked bool `json:"blocked"`
	// DisabledByStint is set only when stint itself switched the account
	// off (accountEnabled=false); stint re-enables only such accounts, never
	// one an administrator disabled.
	DisabledByStint bool `json:"disabledByStint"`
	// ClaimedBy and ClaimedUntil are the claim of the settle now working on
	// this contractor, taken on the record's version before it touches
	// Entra and released by its commit: settles of one contractor never
	// overlap. A claim still held after ClaimedUntil was left by a settle
	// that died mid-way; the next one takes over.
	ClaimedBy    string    `json:"claimedBy,omitempty"`
	ClaimedUntil time.Time `json:"claimedUntil,omitzero"`
	// Disabling is written, under a claim, just before stint blocks the
	// sign-in of a guest it found enabled: a settle that takes over from
	// one that died there knows the disabled account it finds was disabled
	// by stint, not by an administrator.
	Disabling bool      `json:"disabling,omitempty"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Plan is the directory work that brings a contractor's account in line with
// their engagements. Transports carry it out; it says nothing of how.
type Plan struct {
	Contractor string
	// EnsureUser: find the user by email, inviting them as a guest if absent.
	EnsureUser bool
	// Add and Remove list access keys whose groups to join or leave.
	Add    []string
	Remove []string
	// Block: no engagement is left; block a guest's sign-in, or revoke a
	// member's sessions.
	Block bool
	// Unblock: an engagement is active again after stint blocked the
	// account; re-enable it if stint (not an administrator) disabled it.
	Unblock bool
	// Access is the effective access the plan arrives at.
	Access []string
}

// Empty reports whether the plan asks for no directory change.
func (p Plan) Empty() bool {
	return !p.EnsureUser && len(p.Add) == 0 && len(p.Remove) == 0 && !p.Block && !p.Unblock
}

// EffectiveAccess is the union of the access keys of the engagements active
// at now, sorted.
func EffectiveAccess(engagements []Engagement, now time.Time) []string {
	var keys []string
	for _, e := range engagements {
		if e.StatusAt(now) == Active {
			keys = append(keys, e.Access...)
		}
	}
	return sorted(keys)
}

// PlanAccess compares what the contractor's engagements want at now with
// what stint has applied (c) and returns the difference. Engagements of other
// contractors must not be passed.
//
//   - A granted engagement that has not ended needs a directory user: an
//     invitation goes out when the engagement is started, even when it is
//     active only later.
//   - Groups follow the effective access, so ending one of two overlapping
//     engagements keeps the groups the other needs.
//   - With no granted engagement left (active or still to come), the account
//     is blocked once.
//   - A blocked account is unblocked when an engagement is active again.
func PlanAccess(c Contractor, engagements []Engagement, now time.Time) Plan {
	want := EffectiveAccess(engagements, now)
	live := slices.ContainsFunc(engagements, func(e Engagement) bool {
		return e.Started && e.StatusAt(now) != Ended
	})
	p := Plan{Contractor: c.Key, Access: want}
	p.EnsureUser = live && c.UserID == ""
	p.Add = minus(want, c.Granted)
	p.Remove = minus(c.Granted, want)
	p.Block = !live && c.UserID != "" && !c.Blocked
	p.Unblock = len(want) > 0 && c.Blocked
	return p
}

// minus returns the keys of a not in b, sorted.
func minus(a, b []string) []string {
	var out []string
	for _, k := range a {
		if !slices.Contains(b, k) {
			out = append(out, k)
		}
	}
	return sorted(out)
}
