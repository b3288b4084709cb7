package event_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/event"
)

// FuzzParse checks that Parse never panics, that every refusal is an
// *event.Error, and that an accepted event survives a round trip through its
// own JSON encoding unchanged. The samples are the seed corpus, so `go test`
// runs them on every `make test`.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"valid", "invalid", "invalid-rules"} {
		files, _ := filepath.Glob(filepath.Join(samplesDir, dir, "*.json"))
		for _, file := range files {
			f.Add(mustRead(f, filepath.Join(dir, filepath.Base(file))))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := event.Parse(body)
		if err != nil {
			if _, ok := err.(*event.Error); !ok {
				t.Fatalf("Parse error is %T, want *event.Error: %v", err, err)
			}
			return
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", ev, err)
		}
		ev2, err := event.Parse(again)
		if err != nil {
			t.Fatalf("re-Parse of our own encoding failed: %v\n%s", err, again)
		}
		if !equalEvents(ev, ev2) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", ev, ev2)
		}
	})
}

// equalEvents compares instants with Equal: the encoding may change a zone's
// spelling but never the instant.
func equalEvents(a, b event.Event) bool {
	if !a.Time.Equal(b.Time) || !eqTime(a.Data.StartsAt, b.Data.StartsAt) || !eqTime(a.Data.EndsAt, b.Data.EndsAt) {
		return false
	}
	a.Time = b.Time
	a.Data.StartsAt, a.Data.EndsAt = b.Data.StartsAt, b.Data.EndsAt
	return reflect.DeepEqual(a, b)
}

func eqTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
