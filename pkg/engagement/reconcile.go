package engagement

import "slices"

// Finding is what the reconcile makes of an account and a managed group:
// whether the membership Entra shows (or lacks) is what the records want.
type Finding string

// The findings, for a member of the group.
const (
	// Justified: an active engagement grants the group.
	Justified Finding = "justified"
	// Lagging: stint granted the group and no active engagement wants it
	// any more — an end the tick has not reached yet; settling the
	// contractor removes it.
	Lagging Finding = "lagging"
	// Readmitted: stint disabled the account when its engagements ended,
	// yet it is a member again (added back by hand): removed at once.
	Readmitted Finding = "readmitted"
	// Ghost: nothing stint knows justifies the membership; removed once
	// the ghost grace has passed.
	Ghost Finding = "ghost"
)

// The findings, for a contractor the group lacks.
const (
	// Missing: an active engagement wants the group, stint granted it, and
	// the account is not a member (removed by hand): put back.
	Missing Finding = "missing"
	// Due: an active engagement wants the group and stint has not granted
	// it yet — a start the tick has not reached; settling grants it.
	Due Finding = "due"
	// Absent: the group is not wanted and not held.
	Absent Finding = "absent"
)

// Member is what the reconcile knows of one member of a managed group.
type Member struct {
	// Contractor is the record of the account's contractor; Known is false
	// when no contractor record names the account.
	Contractor Contractor
	Known      bool
	// Want lists the access keys of the contractor's active engagements.
	Want []string
	// Key is the group's access key.
	Key string
	// Enabled is the account's sign-in as Entra shows it.
	Enabled bool
}

// ClassifyMember judges a member of a managed group.
func ClassifyMember(m Member) Finding {
	switch {
	case !m.Known:
		return Ghost
	case slices.Contains(m.Want, m.Key):
		return Justified
	case m.Contractor.DisabledByStint && !m.Enabled:
		return Readmitted
	case slices.Contains(m.Contractor.Granted, m.Key):
		return Lagging
	}
	return Ghost
}

// ClassifyAbsent judges a contractor with an account that the group of key
// does not hold.
func ClassifyAbsent(c Contractor, want []string, key string) Finding {
	switch {
	case !slices.Contains(want, key):
		return Absent
	case slices.Contains(c.Granted, key):
		return Missing
	}
	return Due
}
