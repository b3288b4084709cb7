package report

import (
	"time"

	"github.com/stintdev/stint/pkg/engagement"
)

// Flag marks a row for attention.
type Flag string

// The flags, in the order a row lists them. The package doc says when each
// is set.
const (
	Ghost            Flag = "ghost"
	SignedInAfterEnd Flag = "signed-in-after-end"
	Drift            Flag = "drift"
	NotCovered       Flag = "not-covered"
	Dormant          Flag = "dormant"
	Unredeemed       Flag = "unredeemed"
	EndingSoon       Flag = "ending-soon"
)

// Flags lists every flag, in the order a row lists them.
var Flags = []Flag{Ghost, SignedInAfterEnd, Drift, NotCovered, Dormant, Unredeemed, EndingSoon}

// flags are the flags of a row built from in, but ghost, which only
// ghostRows knows.
func flags(in Input, r Row) []Flag {
	rules := []struct {
		flag Flag
		set  bool
	}{
		{SignedInAfterEnd, !r.SignedInAfterEnd.IsZero()},
		{Drift, drifted(in, r)},
		{NotCovered, notCovered(in, r)},
		{Dormant, dormant(in, r)},
		{Unredeemed, r.Invitation == InvitationPending},
		{EndingSoon, endingSoon(in, r)},
	}
	out := []Flag{}
	for _, rule := range rules {
		if rule.set {
			out = append(out, rule.flag)
		}
	}
	return out
}

// wanted are the access keys of the row's active engagements.
func wanted(r Row) map[string]bool {
	want := map[string]bool{}
	for _, e := range r.Engagements {
		if e.Status == engagement.Active {
			for _, k := range e.Access {
				want[k] = true
			}
		}
	}
	return want
}

// drifted: Entra was read for a contractor, and the groups it shows are not
// those of the active engagements.
func drifted(in Input, r Row) bool {
	if r.Contractor == "" || r.Groups == nil {
		return false
	}
	want := wanted(r)
	held := map[string]bool{}
	for _, k := range r.Groups {
		held[k] = true
		if !want[k] {
			return true
		}
	}
	for k := range want {
		if !held[k] {
			return true
		}
	}
	return false
}

// notCovered: the account is in a group that no enabled Conditional Access
// policy requiring MFA targets.
func notCovered(in Input, r Row) bool {
	if in.Covered == nil {
		return false
	}
	for _, k := range r.Groups {
		if !in.Covered[k] {
			return true
		}
	}
	return false
}

// dormant: active, sign-ins known, and none since DormantAfter ago — nor
// since the active engagement started, whichever is later.
func dormant(in Input, r Row) bool {
	if in.DormantAfter <= 0 || r.SignIns == nil || r.Status != engagement.Active {
		return false
	}
	since := r.SignIns.last()
	if s := activeSince(r); s.After(since) {
		since = s
	}
	return in.Now.Sub(since) >= in.DormantAfter
}

// activeSince is the earliest start of the row's active engagements.
func activeSince(r Row) time.Time {
	var t time.Time
	for _, e := range r.Engagements {
		if e.Status == engagement.Active && (t.IsZero() || e.Start.Before(t)) {
			t = e.Start
		}
	}
	return t
}

// endingSoon: active, and every active or pending engagement ends within
// the window.
func endingSoon(in Input, r Row) bool {
	if r.Status != engagement.Active {
		return false
	}
	limit := in.Now.Add(in.EndingWithin)
	for _, e := range r.Engagements {
		if e.Status != engagement.Ended && (e.End.IsZero() || e.End.After(limit)) {
			return false
		}
	}
	return true
}
