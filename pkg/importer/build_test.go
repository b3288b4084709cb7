package importer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/importer"
	"github.com/stintdev/stint/pkg/webhook"
)

// now is the import's clock in these tests.
var now = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

var allowed = []string{"contractor-access", "github-org"}

func options() importer.Options {
	return importer.Options{Allowed: allowed, Now: now}
}

// build reads a list and builds it, failing on a problem the reading
// found.
func build(tb testing.TB, list string, o importer.Options) ([]importer.Item, importer.Problems) {
	tb.Helper()
	rows, problems := read(tb, list)
	if len(problems) > 0 {
		tb.Fatalf("read problems: %v", lines(problems))
	}
	return importer.Build(rows, o)
}

// Every check a row can fail gives its one line: the row, the column, why.
func TestBuildProblems(t *testing.T) {
	tests := []struct {
		name, row string
		want      string
	}{
		{"email empty", ",Ana,,,,,2027-02-28", "row 2, column email: is empty; every row needs the contractor's email"},
		{"email not an address", "ana(at)partner.example,Ana,,,,,2027-02-28", `row 2, column email: "ana(at)partner.example" is not an email address (want local@domain.tld)`},
		{"email not ASCII", "ana@pärtner.example,Ana,,,,,2027-02-28", `row 2, column email: "ana@p\u00e4rtner.example" holds U+00E4, which is not ASCII: Entra builds the guest's user principal name from the address and accepts only ASCII, and a non-ASCII letter can fold into another address (the Kelvin sign U+212A lower-cases to k)`},
		{"name too long", "ana@partner.example," + strings.Repeat("A", 257) + ",,,,,2027-02-28", "row 2, column name: must be at most 256 characters, got 257"},
		{"sponsor not an address", "ana@partner.example,Ana,,owner,,,2027-02-28", `row 2, column sponsor: "owner" is not an email address (want local@domain.tld)`},
		{"access not configured", "ana@partner.example,Ana,,,contractor-access;vpn,,2027-02-28", `row 2, column access: "vpn" is not a configured access key (configured: contractor-access, github-org)`},
		{"access twice", "ana@partner.example,Ana,,,github-org|github-org,,2027-02-28", `row 2, column access: "github-org" is listed twice`},
		{"start not a date", "ana@partner.example,Ana,,,,01/12/2026,2027-02-28", `row 2, column start: "01/12/2026" is not a date: want an ISO date (2027-02-28) or a time with its zone (2027-02-28T18:00:00+01:00)`},
		{"start without a zone", "ana@partner.example,Ana,,,,2026-12-01T09:00:00,2027-02-28", `row 2, column start: "2026-12-01T09:00:00" is not a date: want an ISO date (2027-02-28) or a time with its zone (2027-02-28T18:00:00+01:00)`},
		{"end empty", "ana@partner.example,Ana,,,,,", "row 2, column end: is empty; every row needs the day the engagement ends"},
		{"end not a date", "ana@partner.example,Ana,,,,,28.02.2027", `row 2, column end: "28.02.2027" is not a date: want an ISO date (2027-02-28) or a time with its zone (2027-02-28T18:00:00+01:00)`},
		{"end passed", "ana@partner.example,Ana,,,,,2026-11-20", "row 2, column end: 2026-11-20 has passed; an engagement that ended is not imported"},
		{"several problems, one line", ",Ana,,owner,vpn,x,y", "row 2, column email: is empty; every row needs the contractor's email"},
		{"end before start", "ana@partner.example,Ana,,,,2027-03-01,2027-02-28", "row 2, column end: 2027-02-28 is not after the start, 2027-03-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, problems := build(t, "email,name,company,sponsor,access,start,end\n"+tt.row+"\n", options())
			if got := lines(problems); len(got) != 1 || got[0] != tt.want || len(items) != 0 {
				t.Errorf("problems = %q (%d items), want\n%q", got, len(items), tt.want)
			}
		})
	}
}

// A second row for one engagement is refused on that row, naming the
// first: by email when neither gives an engagementId, by engagementId
// otherwise; one contractor's two engagements, told apart by their ids,
// are two rows.
func TestBuildRefusesTwoRowsForOneEngagement(t *testing.T) {
	list := "email,engagementId,end\n" +
		"ana@partner.example,,2027-02-28\n" +
		"bo@vendor.example,ENG-1,2027-02-28\n" +
		"ANA@partner.example,,2027-03-31\n" +
		"cy@studio.example,ENG-1,2027-02-28\n" +
		"bo@vendor.example,ENG-2,2027-06-30\n"
	items, problems := build(t, list, options())
	want := []string{
		"row 4, column email: ANA@partner.example is also on row 2; one row per contractor (to import several engagements of one contractor, give each an engagementId)",
		"row 5, column engagementId: ENG-1 is also on row 3; one row per engagement",
	}
	if got := lines(problems); !reflect.DeepEqual(got, want) {
		t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(items) != 3 {
		t.Errorf("%d items, want the 3 good rows", len(items))
	}
}

// A date is a day in the import's zone: a start from its first second, an
// end to its last; a time keeps its own zone; no start means the event's
// time, which is the import's.
func TestBuildDates(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	o := options()
	o.Zone = berlin
	items, problems := build(t, "email,start,end\n"+
		"ana@partner.example,2026-12-01,2027-02-28\n"+
		"bo@vendor.example,,2027-03-31T18:00:00-05:00\n", o)
	if len(problems) > 0 {
		t.Fatal(lines(problems))
	}
	ana, bo := items[0].Event, items[1].Event
	if want := time.Date(2026, 12, 1, 0, 0, 0, 0, berlin); !ana.Start().Equal(want) {
		t.Errorf("start = %s, want %s", ana.Start(), want)
	}
	if want := time.Date(2027, 2, 28, 23, 59, 59, 0, berlin); !ana.Data.EndsAt.Equal(want) {
		t.Errorf("end = %s, want %s", ana.Data.EndsAt, want)
	}
	if want := time.Date(2027, 3, 31, 23, 0, 0, 0, time.UTC); !bo.Data.EndsAt.Equal(want) {
		t.Errorf("end = %s, want %s", bo.Data.EndsAt, want)
	}
	if bo.Data.StartsAt != nil || !bo.Start().Equal(now) || !bo.Time.Equal(now) {
		t.Errorf("no start: startsAt %v, start %s, time %s; want the import's time, %s", bo.Data.StartsAt, bo.Start(), bo.Time, now)
	}
}

// What a row becomes: an engagement.started event from stint/import,
// with the row's details, its access sorted, the engagement id derived
// from the email when the row gives none.
func TestBuildEvent(t *testing.T) {
	items, problems := build(t, "email,name,company,sponsor,access,end\n"+
		"Ana@Partner.example,Ana Lima,Partner Ltd,owner@corp.example,github-org;contractor-access,2027-02-28\n"+
		"bo@vendor.example,,,,,2027-02-28\n", options())
	if len(problems) > 0 {
		t.Fatal(lines(problems))
	}
	ev := items[0].Event
	want := event.Event{SpecVersion: "1.0", ID: ev.ID, Source: "stint/import", Type: event.Started, Time: now, Subject: importer.EngagementID("ana@partner.example"),
		DataContentType: "application/json", Data: event.Data{EngagementID: importer.EngagementID("ana@partner.example"),
			Contractor: event.Contractor{Email: "Ana@Partner.example", DisplayName: "Ana Lima", Company: "Partner Ltd"},
			Sponsor:    &event.Sponsor{Email: "owner@corp.example"}, Access: []string{"contractor-access", "github-org"},
			EndsAt: ptr(time.Date(2027, 2, 28, 23, 59, 59, 0, time.UTC))}}
	if got, _ := json.Marshal(ev); string(got) != mustJSON(want) {
		t.Errorf("event =\n%s\nwant\n%s", got, mustJSON(want))
	}
	if !strings.HasPrefix(ev.ID, "import-") || len(ev.ID) != len("import-")+32 {
		t.Errorf("event id %q, want import- and 32 hex digits", ev.ID)
	}
	m := items[0].Message
	if m.ID != "stint/import "+ev.ID || m.Group != "ana@partner.example" || m.Digest != ev.Digest() {
		t.Errorf("message %s %s %s, want the webhook's key, contractor and digest", m.ID, m.Group, m.Digest)
	}
	if items[1].Event.Data.Access != nil {
		t.Errorf("no access: %v, want none in the event (the worker grants STINT_DEFAULT_ACCESS)", items[1].Event.Data.Access)
	}
}

// The same row makes the same event on every import, byte for byte, once
// its first import's time is known; a corrected row makes a new event for
// the same engagement.
func TestBuildIsDeterministic(t *testing.T) {
	list := "email,name,end\nana@partner.example,Ana,2027-02-28\nbo@vendor.example,Bo,2027-02-28\n"
	first, _ := build(t, list, options())
	if !first[0].FirstImport {
		t.Error("the first import of a row is not marked as such")
	}
	later := options()
	later.Now = now.Add(36 * time.Hour)
	later.Imported = map[string]time.Time{first[0].Event.ID: now, first[1].Event.ID: now}
	again, _ := build(t, list, later)
	for i := range first {
		if !reflect.DeepEqual(again[i].Message, first[i].Message) || again[i].FirstImport {
			t.Errorf("row %d imported again: %+v (first import %v)\nwant %+v", i+2, again[i].Message, again[i].FirstImport, first[i].Message)
		}
	}
	fixed, _ := build(t, "email,name,end\nana@partner.example,Ana,2027-03-31\n", later)
	if fixed[0].Event.ID == first[0].Event.ID || fixed[0].Event.Data.EngagementID != first[0].Event.Data.EngagementID || !fixed[0].Event.Time.Equal(later.Now) {
		t.Errorf("corrected row: event %s at %s of %s; want a new event, now, for engagement %s",
			fixed[0].Event.ID, fixed[0].Event.Time, fixed[0].Event.Data.EngagementID, first[0].Event.Data.EngagementID)
	}
}

// The events an import makes are the ones the webhook accepts: each body,
// signed and posted to the webhook's handler, is taken (202) and queued as
// the very message the import queues.
func TestEventsPassTheWebhook(t *testing.T) {
	items, problems := build(t, "email,name,company,sponsor,access,start,end,engagementId\n"+
		"ana@partner.example,Ana Lima,Partner Ltd,owner@corp.example,contractor-access|github-org,2026-11-01,2027-02-28,ENG-1042\n"+
		"bo@vendor.example,,,,,2027-01-04T08:00:00+01:00,2027-06-30T17:00:00+02:00,\n"+
		"cy@studio.example,Cy,,,github-org,,2026-11-22,\n", options())
	if len(problems) > 0 {
		t.Fatal(lines(problems))
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	verifier, err := webhook.ParseSecrets(secret)
	if err != nil {
		t.Fatal(err)
	}
	var queued []engagement.Message
	h := &webhook.Handler{Verifier: verifier, AccessKeys: allowed, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Queue: queueFunc(func(_ context.Context, m engagement.Message) error { queued = append(queued, m); return nil })}
	for _, it := range items {
		headers, err := webhook.Sign(secret, "msg_"+it.Event.ID, time.Now(), it.Message.Body)
		if err != nil {
			t.Fatal(err)
		}
		if r := h.Receive(context.Background(), it.Message.Body, headers); r.Status != http.StatusAccepted {
			t.Errorf("row %d: the webhook answered %d %s", it.Row.Number, r.Status, r.Body)
		}
	}
	want := []engagement.Message{}
	for _, it := range items {
		want = append(want, it.Message)
	}
	if !reflect.DeepEqual(queued, want) {
		t.Errorf("the webhook queued\n%+v\nthe import queues\n%+v", queued, want)
	}
}

// queueFunc is a queue in a function.
type queueFunc func(context.Context, engagement.Message) error

func (f queueFunc) Enqueue(ctx context.Context, m engagement.Message) error { return f(ctx, m) }

var _ engagement.Queue = queueFunc(nil)

func ptr[T any](v T) *T { return &v }

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
