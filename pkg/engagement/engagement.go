// Package engagement is stint's domain: engagement records, the rules that
// fold events into them, the plan of directory changes that follows, and the
// Ledger interface that stores records and the audit trail.
//
// Everything here is pure: no I/O, and "now" is always a parameter.
//
// # How events fold into a record
//
// A record is the merge of every event applied to it. Each field is a
// last-writer-wins register stamped with the (time, id) of the event that set
// it: an event sets a field only when it is newer than the event that set it
// last. The merge is therefore commutative, associative and idempotent, and
// the record is the same whatever order the queue delivers the events in and
// however often it redelivers them.
//
// The design calls an event older than the last applied one "stale: recorded
// in the audit trail and otherwise ignored". With registers that holds for
// every field a newer event has set; an older event still fills in what no
// newer event has said — a started event that arrives after its extension
// still supplies the start date and the grant. Without that, the order of
// arrival would decide whether a contractor ever gets access. Such an event is
// reported as AppliedOutOfOrder; one that changes nothing is Stale.
//
// Which fields each type sets:
//
//	field            started                extended                ended
//	profile          yes                    yes                     yes
//	access           yes (or the default)   if it lists access      no
//	start            startsAt, else time    if it has startsAt      if it has startsAt
//	end              endsAt                 endsAt                  endsAt, else time
//	started (grant)  yes                    no                      no
//
// Only a started event grants access: an engagement known only from an
// extension or an end stays pending until its started event arrives. The
// newest instruction wins, so an extension dated after an end reopens the
// engagement until its new end (the audit trail shows it).
package engagement

import (
	"time"

	"github.com/stintdev/stint/pkg/event"
)

// Status is where an engagement stands at an instant.
type Status string

// The statuses. "Active" is decided in exactly one place: StatusAt.
const (
	Pending Status = "pending"
	Active  Status = "active"
	Ended   Status = "ended"
)

// Stamp orders events: by time; at equal times an end outranks an
// extension, which outranks a start (so a termination recorded in the same
// second as a start wins); then by id, so that any two events have one
// order everywhere.
type Stamp struct {
	Time    time.Time  `json:"time"`
	EventID string     `json:"eventId"`
	Type    event.Type `json:"type"`
}

// After reports whether s is newer than o. The zero Stamp is older than all.
func (s Stamp) After(o Stamp) bool {
	switch {
	case !s.Time.Equal(o.Time):
		return s.Time.After(o.Time)
	case rank(s.Type) != rank(o.Type):
		return rank(s.Type) > rank(o.Type)
	}
	return s.EventID > o.EventID
}

func rank(t event.Type) int {
	switch t {
	case event.Ended:
		return 3
	case event.Extended:
		return 2
	case event.Started:
		return 1
	}
	return 0
}

// IsZero reports whether no event has set the register.
func (s Stamp) IsZero() bool { return s.EventID == "" }

// StampOf returns the stamp of an event.
func StampOf(ev event.Event) Stamp {
	return Stamp{Time: ev.Time.UTC(), EventID: ev.ID, Type: ev.Type}
}

// Engagement is the desired state of one engagement, and what stint last
// applied for it. It is ended, never deleted.
type Engagement struct {
	ID string `json:"id"`
	// Contractor is the contractor key, the lower-cased email.
	Contractor  string `json:"contractor"`
	Email       string `json:"email"`
	DisplayName string `json:"displayName,omitempty"`
	Company     string `json:"company,omitempty"`
	Sponsor     string `json:"sponsor,omitempty"`
	// Source is the system that sent the newest event.
	Source string `json:"source"`
	// Access lists the access keys the engagement grants.
	Access []string `json:"access"`
	// StartsAt is zero while no event has said when it starts.
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	// Started is set once a started event has been applied: the grant.
	Started bool `json:"started"`
	// Terminated is set when the end comes from an ended event rather than
	// the contract's scheduled end.
	Terminated bool `json:"terminated"`

	// The registers' stamps: which event set each field.
	ProfileSetBy Stamp `json:"profileSetBy"`
	AccessSetBy  Stamp `json:"accessSetBy"`
	StartSetBy   Stamp `json:"startSetBy"`
	EndSetBy     Stamp `json:"endSetBy"`
	StartedBy    Stamp `json:"startedBy"`
	// Last is the newest event applied. Which events were applied is kept
	// apart, one SeenEvent each (Ledger.Seen), so a record stays small
	// however many events it has had.
	Last Stamp `json:"last"`

	// State is the status stint last applied to the directory; the tick
	// compares it with StatusAt to find due transitions.
	State Status `json:"state"`
	// RetryAt is set when a settle that had work to do for this engagement
	// failed (Graph refused, an outage): the tick tries again then, with a
	// backoff that doubles with Failures, from a minute to an hour. A
	// successful settle clears both.
	RetryAt  time.Time `json:"retryAt,omitzero"`
	Failures int       `json:"failures,omitempty"`
	// Version is the optimistic-concurrency version: 0 for a record not yet
	// stored; the ledger bumps it on every write.
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// StatusAt is the one definition of pending, active and ended: active from
// StartsAt (once granted by a started event) until EndsAt, ended from EndsAt.
func (e Engagement) StatusAt(now time.Time) Status {
	switch {
	case !e.EndsAt.IsZero() && !now.Before(e.EndsAt):
		return Ended
	case e.Started && !e.StartsAt.IsZero() && !now.Before(e.StartsAt):
		return Active
	}
	return Pending
}

// DueAt is when the tick must next settle the engagement: RetryAt after a
// failed settle — whatever its State, so a reopened engagement whose grant
// failed is retried too — else when the applied State next has to change,
// judged from State alone: the start of a granted pending engagement, else
// its end; zero once ended. The ledger indexes it for the tick.
func (e Engagement) DueAt() time.Time {
	if !e.RetryAt.IsZero() {
		return e.RetryAt
	}
	switch e.State {
	case Ended:
		return time.Time{}
	case Pending:
		if e.Started && !e.StartsAt.IsZero() && e.StartsAt.Before(e.EndsAt) {
			return e.StartsAt
		}
	}
	return e.EndsAt
}
