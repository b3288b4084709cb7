package worker_test

import (
	"context"
	"slices"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
)

// Process tells Observe what became of each message: the event's outcome
// when it is done, refused when it can never apply, retried otherwise (a
// panic included).
func TestProcessTellsObserve(t *testing.T) {
	e := newEnv(t)
	e.handler.Directory = panicky{Directory: e.handler.Directory, email: "boom@vendor.example"}
	var observed []string
	e.handler.Observe = func(outcome string) { observed = append(observed, outcome) }
	later := e.day(60)
	started := e.started("s1", e.day(0), e.day(0), e.day(30))
	older := e.ev("s0", event.Extended, e.day(-1), "ENG-1", func(d *event.Data) { d.EndsAt = &later })
	messages := []struct{ id, body string }{
		{"s1", mustJSON(started)},
		{"s1", mustJSON(started)},
		{"s0", mustJSON(older)},
		{"junk", `{"specversion":"1.0"`},
		{"boom", mustJSON(e.startedFor("boom", "boom@vendor.example"))},
	}
	for _, m := range messages {
		e.handler.Process(context.Background(), engagement.Message{ID: m.id, Body: []byte(m.body)})
	}
	if want := []string{"applied", "duplicate", "stale", "refused", "retried"}; !slices.Equal(observed, want) {
		t.Errorf("Observe was told %q, want %q", observed, want)
	}
}
