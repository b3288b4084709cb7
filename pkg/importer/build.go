package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
)

// Source is the CloudEvents source of every imported event: the audit
// trail names it as the actor of what the import caused.
const Source = "stint/import"

// The prefixes of the ids an import derives.
const (
	eventPrefix      = "import-"
	engagementPrefix = "import-"
)

// Item is a row ready to import: its event, parsed and checked as the
// webhook checks what it receives, and the message the webhook would put
// on the queue for it.
type Item struct {
	Row     Row
	Event   event.Event
	Message engagement.Message
	// FirstImport is set when no earlier import of the row is known: its
	// time is now, and is to be kept (Mark) so that a re-run says the
	// same.
	FirstImport bool
}

// Active reports whether the row's engagement is active at now: what
// justifies a membership today (a future start does not).
func (it Item) Active(now time.Time) bool {
	return !now.Before(it.Event.Start()) && now.Before(*it.Event.Data.EndsAt)
}

// Options say how rows become events.
type Options struct {
	// Allowed are the configured access keys (STINT_GROUPS).
	Allowed []string
	// Zone places a date without a time: a start at 00:00:00, an end at
	// 23:59:59 of that day (UTC when nil).
	Zone *time.Location
	// Now is the import's time: the time of a row imported for the first
	// time, and what an end must be after.
	Now time.Time
	// Imported are the times of rows imported before, by event id (read
	// from the ledger's marks: MarkPrefix).
	Imported map[string]time.Time
}

// Build turns good rows into items, or into one Problem per bad row. A
// row's event is what the webhook would accept: built, then run through
// event.Parse and the webhook's own checks (configured access keys, a
// time not ahead of now).
func Build(rows []Row, o Options) ([]Item, Problems) {
	if o.Zone == nil {
		o.Zone = time.UTC
	}
	var items []Item
	var problems Problems
	firstRow := map[string]int{} // engagement id -> the row that named it first
	for _, r := range rows {
		it, p := build(r, o)
		if p == nil {
			p = duplicate(r, it.Event.Data.EngagementID, firstRow)
		}
		if p != nil {
			problems = append(problems, *p)
			continue
		}
		items = append(items, it)
	}
	return items, problems
}

// duplicate refuses a second row for one engagement, on that second row.
func duplicate(r Row, engID string, first map[string]int) *Problem {
	n, seen := first[engID]
	if !seen {
		first[engID] = r.Number
		return nil
	}
	if r.EngagementID != "" {
		return &Problem{Row: r.Number, Column: ColEngagement, Reason: fmt.Sprintf("%s is also on row %d; one row per engagement", r.EngagementID, n)}
	}
	return &Problem{Row: r.Number, Column: ColEmail, Reason: fmt.Sprintf("%s is also on row %d; one row per contractor (to import several engagements of one contractor, give each an engagementId)", r.Email, n)}
}

// build makes one row's event, or says what is wrong with the row: the
// first problem found (the cells stint reads itself, then the event).
func build(r Row, o Options) (Item, *Problem) {
	bad := func(col, format string, args ...any) (Item, *Problem) {
		return Item{}, &Problem{Row: r.Number, Column: col, Reason: fmt.Sprintf(format, args...)}
	}
	if r.Email == "" {
		return bad(ColEmail, "is empty; every row needs the contractor's email")
	}
	if i := engagement.Unconfigured(r.Access, o.Allowed); i >= 0 {
		return bad(ColAccess, "%q is not a configured access key (configured: %s)", r.Access[i], strings.Join(o.Allowed, ", "))
	}
	var start *time.Time
	if r.Start != "" {
		t, err := parseTime(r.Start, o.Zone, false)
		if err != nil {
			return bad(ColStart, "%v", err)
		}
		start = &t
	}
	if r.End == "" {
		return bad(ColEnd, "is empty; every row needs the day the engagement ends")
	}
	end, err := parseTime(r.End, o.Zone, true)
	if err != nil {
		return bad(ColEnd, "%v", err)
	}
	switch {
	case !end.After(o.Now):
		return bad(ColEnd, "%s has passed; an engagement that ended is not imported", r.End)
	case start != nil && !end.After(*start):
		return bad(ColEnd, "%s is not after the start, %s", r.End, r.Start)
	}
	ev := newEvent(r, start, end, o)
	body, err := json.Marshal(ev)
	if err != nil {
		return bad("-", "cannot be encoded: %v", err)
	}
	parsed, err := event.Parse(body)
	var perr *event.Error
	if errors.As(err, &perr) {
		return bad(columnOf(perr.Pointer), "%s", perr.Reason)
	}
	if err != nil {
		return bad("-", "%v", err)
	}
	if parsed.Time.After(o.Now.Add(engagement.MaxClockSkew)) {
		return bad("-", "was first imported at %s, ahead of this machine's clock (%s): fix the clock", parsed.Time.Format(time.RFC3339), o.Now.Format(time.RFC3339))
	}
	_, before := o.Imported[parsed.ID]
	return Item{Row: r, Event: parsed, FirstImport: !before,
		Message: engagement.Message{ID: parsed.Key(), Digest: parsed.Digest(), Group: parsed.ContractorKey(), Body: body}}, nil
}

// newEvent is the engagement.started event of a row. Its id is derived
// from what the row says (EventID); its time is when the row was first
// imported, so that importing it again makes the very same event.
func newEvent(r Row, start *time.Time, end time.Time, o Options) event.Event {
	engID := r.EngagementID
	if engID == "" {
		engID = EngagementID(r.Email)
	}
	access := slices.Sorted(slices.Values(r.Access))
	id := EventID(r, engID, access, start, end)
	at, before := o.Imported[id]
	if !before {
		at = o.Now
	}
	ev := event.Event{
		SpecVersion: event.SpecVersion, ID: id, Source: Source, Type: event.Started,
		Time: at.Truncate(time.Second).In(o.Zone), Subject: engID, DataContentType: "application/json",
		Data: event.Data{EngagementID: engID, Contractor: event.Contractor{Email: r.Email, DisplayName: r.Name, Company: r.Company},
			Access: access, StartsAt: start, EndsAt: &end},
	}
	if r.Sponsor != "" {
		ev.Data.Sponsor = &event.Sponsor{Email: r.Sponsor}
	}
	return ev
}

// EngagementID is the engagement id of a row that gives none: one
// engagement per contractor, the same whatever the row's other cells say,
// so that a corrected row (another end date) updates the engagement
// rather than adding a second one.
func EngagementID(email string) string {
	return engagementPrefix + digest(event.ContractorKey(email))[:16]
}

// EventID is a row's event id: a digest of everything the row says, its
// times as instants. The same row gives the same id on every import; a
// changed row gives another.
func EventID(r Row, engID string, access []string, start *time.Time, end time.Time) string {
	canon := struct {
		EngagementID, Email, Name, Company, Sponsor string
		Access                                      []string
		Start                                       string
		End                                         string
	}{engID, r.Email, r.Name, r.Company, r.Sponsor, access, "", end.UTC().Format(time.RFC3339)}
	if start != nil {
		canon.Start = start.UTC().Format(time.RFC3339)
	}
	b, _ := json.Marshal(canon) // strings only: cannot fail
	return eventPrefix + digest(string(b))[:32]
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// parseTime reads an ISO date (2027-02-28) or an RFC 3339 time with a
// zone. A date is placed in zone: at its first second for a start, at its
// last (23:59:59, the event format's way of writing "to the end of that
// day") for an end.
func parseTime(s string, zone *time.Location, end bool) (time.Time, error) {
	if d, err := time.ParseInLocation(time.DateOnly, s, zone); err == nil {
		if end {
			return d.AddDate(0, 0, 1).Add(-time.Second), nil
		}
		return d, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a date: want an ISO date (2027-02-28) or a time with its zone (2027-02-28T18:00:00+01:00)", s)
}

// columnOf names the column behind a field of the event.
func columnOf(pointer string) string {
	switch {
	case pointer == "/data/contractor/email":
		return ColEmail
	case pointer == "/data/contractor/displayName":
		return ColName
	case pointer == "/data/contractor/company":
		return ColCompany
	case strings.HasPrefix(pointer, "/data/sponsor"):
		return ColSponsor
	case strings.HasPrefix(pointer, "/data/access"):
		return ColAccess
	case pointer == "/data/startsAt":
		return ColStart
	case pointer == "/data/endsAt":
		return ColEnd
	case pointer == "/data/engagementId", pointer == "/subject":
		return ColEngagement
	}
	return "-"
}
