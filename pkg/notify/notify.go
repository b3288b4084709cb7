package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/fault"
)

// Type is a notification's CloudEvents type.
type Type string

// The notification types.
const (
	// EngagementReminder: an engagement ends soon (STINT_REMIND_BEFORE);
	// to the sponsor.
	EngagementReminder Type = "dev.stint.engagement.reminder"
	// EngagementEnded: an engagement ended and its access was removed.
	EngagementEnded Type = "dev.stint.engagement.ended"
	// GhostFound: a member of a managed group that no engagement explains.
	GhostFound Type = "dev.stint.ghost.found"
	// DriftFound: a contractor's access differs from what stint applied.
	DriftFound Type = "dev.stint.drift.found"
	// PolicyDrift: a Conditional Access policy stint manages was changed
	// outside stint.
	PolicyDrift Type = "dev.stint.policy.drift"
	// ContractorDormant: an active contractor has not signed in for
	// STINT_DORMANT_AFTER.
	ContractorDormant Type = "dev.stint.contractor.dormant"
	// SignInAfterEnd: a contractor signed in after their engagement ended.
	SignInAfterEnd Type = "dev.stint.signin.after_end"
)

// Types are every notification type, in a stable order.
var Types = []Type{EngagementReminder, EngagementEnded, GhostFound, DriftFound, PolicyDrift, ContractorDormant, SignInAfterEnd}

// Notification is one thing to tell.
type Notification struct {
	// ID is stable and unique: the caller chooses it so that the same
	// finding gets the same id every time (an audit entry's id, or
	// "reminder/<engagement>/<threshold>"). The outbox keeps one
	// notification per id, and receivers dedupe on it.
	ID   string `json:"id"`
	Type Type   `json:"type"`
	// Subject is the contractor (or the policy) it concerns.
	Subject string `json:"subject"`
	// Time is when it happened, or when the reminder was made.
	Time time.Time `json:"time"`
	Data Data      `json:"data"`
}

// Data is what a notification says, as a small JSON object. It names
// people, records and times; never a token or a secret.
type Data struct {
	Contractor string `json:"contractor,omitempty"`
	Engagement string `json:"engagement,omitempty"`
	Sponsor    string `json:"sponsor,omitempty"`
	// EndsAt is when the engagement ends (a reminder) or ended.
	EndsAt time.Time `json:"endsAt,omitzero"`
	// Group is the Entra group concerned (a ghost, drift).
	Group string `json:"group,omitempty"`
	// Policy is the Conditional Access policy concerned (policy drift).
	Policy string `json:"policy,omitempty"`
	// User is the Entra object id, when known.
	User string `json:"user,omitempty"`
	// SignInAt is the last sign-in (dormant) or the sign-in after the end.
	SignInAt time.Time `json:"signInAt,omitzero"`
	// Reason says why, in words.
	Reason string `json:"reason,omitempty"`
}

// Check reports what makes n unfit for the outbox, naming the field.
func (n Notification) Check() error {
	switch {
	case strings.TrimSpace(n.ID) == "":
		return fault.Errorf(fault.Invalid, "notify: a notification of type %s about %q has no id: give it a stable one (an audit entry's id, reminder/<engagement>/<threshold>)", n.Type, n.Subject)
	case !slices.Contains(Types, n.Type):
		return fault.Errorf(fault.Invalid, "notify: notification %q: type %q is not one of the dev.stint.* types", n.ID, n.Type)
	case n.Time.IsZero():
		return fault.Errorf(fault.Invalid, "notify: notification %q has no time: set when it happened", n.ID)
	}
	return nil
}

// Title is a short heading for the notification: a card's title.
func (n Notification) Title() string {
	switch n.Type {
	case EngagementReminder:
		return "Engagement ends soon"
	case EngagementEnded:
		return "Engagement ended"
	case GhostFound:
		return "Ghost account found"
	case DriftFound:
		return "Access drift found"
	case PolicyDrift:
		return "Conditional Access policy drift"
	case ContractorDormant:
		return "Dormant contractor"
	case SignInAfterEnd:
		return "Sign-in after the end"
	}
	return string(n.Type)
}

// Text is the notification in one sentence, for people.
func (n Notification) Text() string {
	d := n.Data
	who := cmp.Or(d.Contractor, n.Subject, d.User)
	var s string
	switch n.Type {
	case EngagementReminder:
		s = fmt.Sprintf("Reminder: %s's engagement %s ends on %s (%s)", who, d.Engagement, day(d.EndsAt), until(n.Time, d.EndsAt))
	case EngagementEnded:
		s = fmt.Sprintf("%s's engagement %s ended on %s; access removed", who, d.Engagement, day(d.EndsAt))
	case GhostFound:
		s = fmt.Sprintf("Ghost: %s is a member of %s, and no engagement explains it", who, cmp.Or(d.Group, "a managed group"))
	case DriftFound:
		s = fmt.Sprintf("Drift: %s's access in Entra differs from what stint applied", who)
	case PolicyDrift:
		s = fmt.Sprintf("Policy drift: Conditional Access policy %s was changed outside stint", cmp.Or(d.Policy, n.Subject))
	case ContractorDormant:
		s = fmt.Sprintf("Dormant: %s has not signed in since %s", who, day(d.SignInAt))
		if d.Engagement != "" {
			s += fmt.Sprintf(" (engagement %s)", d.Engagement)
		}
	case SignInAfterEnd:
		s = fmt.Sprintf("%s signed in on %s, after engagement %s ended on %s", who, d.SignInAt.UTC().Format("2006-01-02 15:04 MST"), d.Engagement, day(d.EndsAt))
	default:
		s = fmt.Sprintf("%s about %s", n.Type, who)
	}
	if d.Sponsor != "" && n.Type != PolicyDrift {
		s += "; sponsor " + d.Sponsor
	}
	if d.Reason != "" {
		s += ": " + d.Reason
	}
	return s
}

// Fact is one labelled value of a notification, for a card.
type Fact struct{ Title, Value string }

// Facts are the notification's data as labelled values, the empty ones
// left out.
func (n Notification) Facts() []Fact {
	d := n.Data
	all := []Fact{
		{"Contractor", d.Contractor},
		{"Engagement", d.Engagement},
		{"Sponsor", d.Sponsor},
		{"Ends", day(d.EndsAt)},
		{"Group", d.Group},
		{"Policy", d.Policy},
		{"Sign-in", stamp(d.SignInAt)},
		{"Reason", d.Reason},
	}
	var out []Fact
	for _, f := range all {
		if f.Value != "" {
			out = append(out, f)
		}
	}
	return out
}

func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

// until says how far end is from now, in whole days (hours under a day).
func until(now, end time.Time) string {
	d := end.Sub(now)
	switch {
	case d <= 0:
		return "now"
	case d < 24*time.Hour:
		h := int(d.Round(time.Hour) / time.Hour)
		return plural(max(h, 1), "hour")
	}
	return plural(int((d+12*time.Hour)/(24*time.Hour)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "in 1 " + unit
	}
	return fmt.Sprintf("in %d %ss", n, unit)
}
