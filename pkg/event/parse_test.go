package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
)

func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(samplesDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// edit decodes a sample, lets f change it, and encodes it again.
func edit(tb testing.TB, name string, f func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(mustRead(tb, name), &m); err != nil {
		tb.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func data(m map[string]any) map[string]any { return m["data"].(map[string]any) }

func TestParseStartedSample(t *testing.T) {
	ev, err := event.Parse(mustRead(t, "valid/started-future.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ev.ContractorKey(), "bo.chen@vendor.example"; got != want {
		t.Errorf("ContractorKey() = %q, want %q", got, want)
	}
	if got, want := ev.Data.Contractor.Email, "Bo.Chen@Vendor.example"; got != want {
		t.Errorf("Email = %q, want the address as sent, %q", got, want)
	}
	wantStart := time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC)
	if got := ev.Start(); !got.Equal(wantStart) {
		t.Errorf("Start() = %v, want %v (the offset kept)", got, wantStart)
	}
	if got, want := strings.Join(ev.Data.Access, ","), "contractor-access,finance-apps"; got != want {
		t.Errorf("Access = %q, want %q", got, want)
	}
	if ev.Data.Sponsor == nil || ev.Data.Sponsor.Email != "lead@corp.example" {
		t.Errorf("Sponsor = %+v, want lead@corp.example", ev.Data.Sponsor)
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		body  []byte
		check func(t *testing.T, ev event.Event)
	}{
		{
			name: "startsAt absent defaults to time",
			body: edit(t, "valid/started.json", func(m map[string]any) { delete(data(m), "startsAt") }),
			check: func(t *testing.T, ev event.Event) {
				if ev.Data.StartsAt != nil || !ev.Start().Equal(ev.Time) {
					t.Errorf("Start() = %v, want time %v", ev.Start(), ev.Time)
				}
			},
		},
		{
			name: "unknown data fields and extension attributes are ignored",
			body: edit(t, "valid/started.json", func(m map[string]any) {
				data(m)["costCenter"] = 4711
				m["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
			}),
			check: func(t *testing.T, ev event.Event) {
				if ev.Data.EngagementID != "ENG-1042" {
					t.Errorf("EngagementID = %q", ev.Data.EngagementID)
				}
			},
		},
		{
			name: "access absent is empty, for the configured default to fill",
			body: mustRead(t, "valid/ended-now.json"),
			check: func(t *testing.T, ev event.Event) {
				if ev.Data.Access != nil || ev.Data.EndsAt != nil {
					t.Errorf("Access = %v, EndsAt = %v, want both absent", ev.Data.Access, ev.Data.EndsAt)
				}
			},
		},
		{
			name: "ended may carry an endsAt before its time: access ends now",
			body: edit(t, "valid/ended-now.json", func(m map[string]any) { data(m)["endsAt"] = "2027-01-01T00:00:00Z" }),
			check: func(t *testing.T, ev event.Event) {
				if ev.Data.EndsAt == nil || !ev.Data.EndsAt.Before(ev.Time) {
					t.Errorf("EndsAt = %v, want before %v", ev.Data.EndsAt, ev.Time)
				}
			},
		},
		{
			name: "extended with a past startsAt, ending after its time",
			body: edit(t, "valid/extended.json", func(m map[string]any) { data(m)["startsAt"] = "2026-11-21T00:00:00Z" }),
			check: func(t *testing.T, ev event.Event) {
				if ev.Data.StartsAt == nil || !ev.Data.EndsAt.After(ev.Time) {
					t.Errorf("StartsAt = %v, EndsAt = %v, want both kept", ev.Data.StartsAt, ev.Data.EndsAt)
				}
			},
		},
		{
			name: "fractional seconds and offsets",
			body: edit(t, "valid/started.json", func(m map[string]any) { m["time"] = "2026-11-21T10:00:00.123456+01:00" }),
			check: func(t *testing.T, ev event.Event) {
				if want := time.Date(2026, 11, 21, 9, 0, 0, 123456000, time.UTC); !ev.Time.Equal(want) {
					t.Errorf("Time = %v, want %v", ev.Time, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := event.Parse(tt.body)
			if err != nil {
				t.Fatalf("Parse = %v, want no error", err)
			}
			tt.check(t, ev)
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{
			name: "null sponsor",
			body: edit(t, "valid/started.json", func(m map[string]any) { data(m)["sponsor"] = nil }),
			want: "invalid event: /data/sponsor: must be an object, got null",
		},
		{
			name: "second JSON value after the event",
			body: append(mustRead(t, "valid/started.json"), []byte(`{}`)...),
			want: "invalid event: body holds more than one JSON value; send one event per request",
		},
		{
			name: "a closing bracket after the event",
			body: append(mustRead(t, "valid/started.json"), []byte(" ]")...),
			want: `invalid event: body is not valid JSON: unexpected "]" after the event`,
		},
		{
			name: "a closing brace after the event",
			body: append(mustRead(t, "valid/started.json"), []byte("}")...),
			want: `invalid event: body is not valid JSON: unexpected "}" after the event`,
		},
		{
			name: "whitespace-only id",
			body: edit(t, "valid/started.json", func(m map[string]any) { m["id"] = "   " }),
			want: "invalid event: /id: must not be empty",
		},
		{
			name: "display name too long, counted in characters",
			body: edit(t, "valid/started.json", func(m map[string]any) {
				data(m)["contractor"].(map[string]any)["displayName"] = strings.Repeat("é", 257)
			}),
			want: "invalid event: /data/contractor/displayName: must be at most 256 characters, got 257",
		},
		{
			name: "access key that is not a string",
			body: edit(t, "valid/started.json", func(m map[string]any) { data(m)["access"] = []any{"a", true} }),
			want: "invalid event: /data/access/1: must be a string, got a boolean",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := event.Parse(tt.body)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse error = %v, want %s", err, tt.want)
			}
			if got := fault.CodeOf(err); got != fault.Invalid {
				t.Errorf("CodeOf = %q, want %q", got, fault.Invalid)
			}
		})
	}
}

func TestParseRefusesOversizeBody(t *testing.T) {
	pad := strings.Repeat("x", event.MaxBodySize)
	body := edit(t, "valid/started.json", func(m map[string]any) { data(m)["padding"] = pad })
	_, err := event.Parse(body)
	if !errors.Is(err, event.ErrTooLarge) {
		t.Fatalf("Parse error = %v, want ErrTooLarge", err)
	}
	if want := "invalid event: body is " + itoa(len(body)) + " bytes; the limit is 65536"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}

	// Exactly at the limit is accepted: the limit is inclusive.
	exact := edit(t, "valid/started.json", func(m map[string]any) { data(m)["padding"] = "" })
	exact = append(exact, bytes.Repeat([]byte(" "), event.MaxBodySize-len(exact))...)
	if _, err := event.Parse(exact); err != nil {
		t.Errorf("Parse of a %d-byte body = %v, want no error", len(exact), err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A resend of the same event has the same digest, however it is written;
// any change to what it says changes the digest.
func TestDigest(t *testing.T) {
	base := `{"specversion":"1.0","id":"e1","source":"hr/x","type":"engagement.started","time":"2026-11-21T09:00:00Z","subject":"ENG-1","data":{"engagementId":"ENG-1","contractor":{"email":"ana@partner.example"},"endsAt":"2027-02-28T23:59:59Z"}}`
	same := `{ "source":"hr/x", "specversion":"1.0", "id":"e1", "type":"engagement.started", "time":"2026-11-21T10:00:00+01:00",
		"subject":"ENG-1", "data":{"contractor":{"email":"ana@partner.example"}, "engagementId":"ENG-1", "endsAt":"2027-02-28T23:59:59Z", "note":"unknown fields do not count"}}`
	other := strings.Replace(base, "2027-02-28", "2027-03-31", 1)
	digest := func(body string) string {
		t.Helper()
		ev, err := event.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		return ev.Digest()
	}
	if digest(base) != digest(same) {
		t.Error("the same event written differently has another digest")
	}
	if digest(base) == digest(other) {
		t.Error("an event with another end has the same digest")
	}
}
