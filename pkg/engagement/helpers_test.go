package engagement_test

import (
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
)

// day0 is the reference instant of the tests; d(n) is n days after it.
var day0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func d(n float64) time.Time { return day0.Add(time.Duration(n * 24 * float64(time.Hour))) }

func ptr(t time.Time) *time.Time { return &t }

var opts = engagement.Options{
	DefaultAccess: []string{"contractor-access"},
	Allowed:       []string{"contractor-access", "finance-apps", "github-org"},
}

// ev builds an event of engagement ENG-1 for ana@partner.example; change
// adjusts it.
func ev(id string, typ event.Type, at time.Time, change func(e *event.Event)) event.Event {
	e := event.Event{
		SpecVersion: "1.0", ID: id, Source: "hr/test", Type: typ, Time: at, Subject: "ENG-1",
		Data: event.Data{
			EngagementID: "ENG-1",
			Contractor:   event.Contractor{Email: "Ana@Partner.example", DisplayName: "Ana Lima"},
		},
	}
	if change != nil {
		change(&e)
	}
	return e
}

func started(id string, at, start, end time.Time, access ...string) event.Event {
	return ev(id, event.Started, at, func(e *event.Event) {
		e.Data.StartsAt, e.Data.EndsAt, e.Data.Access = ptr(start), ptr(end), access
	})
}

func extended(id string, at, end time.Time, access ...string) event.Event {
	return ev(id, event.Extended, at, func(e *event.Event) { e.Data.EndsAt, e.Data.Access = ptr(end), access })
}

func ended(id string, at time.Time, end *time.Time) event.Event {
	return ev(id, event.Ended, at, func(e *event.Event) { e.Data.EndsAt = end })
}

// other moves an event to engagement id.
func other(id string, e event.Event) event.Event {
	e.Subject, e.Data.EngagementID = id, id
	return e
}

// fold merges events in the order given, at now, failing on any error.
func fold(tb testing.TB, now time.Time, events ...event.Event) (engagement.Engagement, []engagement.Outcome) {
	tb.Helper()
	var rec engagement.Engagement
	var outcomes []engagement.Outcome
	for _, e := range events {
		var out engagement.Outcome
		var err error
		rec, out, err = engagement.Merge(rec, e, now, opts)
		if err != nil {
			tb.Fatalf("Merge(%s): %v", e.ID, err)
		}
		outcomes = append(outcomes, out)
	}
	return rec, outcomes
}
