package event_test

import (
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/event"
)

// A member named twice is refused wherever it sits: encoding/json would keep
// the last one silently, and another reader of the same bytes may keep the
// first, so the two would act on different events.
func TestParseRefusesDuplicateMembers(t *testing.T) {
	with := func(old, new string) []byte { return replaceOnce(t, "valid/started.json", old, new) }
	tests := []struct {
		name string
		body []byte
		want string
	}{
		{
			name: "envelope",
			body: with(`"type": "engagement.started",`, `"type": "engagement.started", "type": "engagement.ended",`),
			want: "/type",
		},
		{
			name: "data",
			body: with(`"engagementId": "ENG-1042",`, `"engagementId": "ENG-1042", "engagementId": "ENG-1043",`),
			want: "/data/engagementId",
		},
		{
			name: "data.contractor",
			body: with(`"email": "ana@partner.example",`, `"email": "ana@partner.example", "email": "eve@partner.example",`),
			want: "/data/contractor/email",
		},
		{
			name: "data.sponsor",
			body: with(`"email": "owner@corp.example"`, `"email": "owner@corp.example", "email": "eve@corp.example"`),
			want: "/data/sponsor/email",
		},
		{
			name: "unknown member of data, nested",
			body: with(`"engagementId": "ENG-1042",`, `"engagementId": "ENG-1042", "extra": {"a": [1, {"b": 1, "b": 2}]},`),
			want: "/data/extra/a/1/b",
		},
		{
			name: "extension attribute",
			body: with(`"specversion": "1.0",`, `"specversion": "1.0", "traceparent": "x", "traceparent": "y",`),
			want: "/traceparent",
		},
		{
			name: "the same name spelled with an escape",
			body: with(`"type": "engagement.started",`, `"type": "engagement.started", "\u0074ype": "engagement.ended",`),
			want: "/type",
		},
		{
			name: "names holding / and ~ are escaped in the pointer",
			body: with(`"specversion": "1.0",`, `"specversion": "1.0", "a/b~c": 1, "a/b~c": 2,`),
			want: "/a~1b~0c",
		},
		{
			name: "invalid UTF-8 names that decode to the same name",
			body: with(`"specversion": "1.0",`, "\"specversion\": \"1.0\", \"x\xff\": 1, \"x\xfe\": 2,"),
			want: "/x\uFFFD",
		},
		{
			name: "the first duplicate in document order is named",
			body: with(`"type": "engagement.started",`, `"type": "engagement.started", "id": "other", "type": "engagement.ended",`),
			want: "/id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := event.Parse(tt.body)
			want := "invalid event: " + tt.want + ": is given twice; each member may appear once"
			if err == nil || err.Error() != want {
				t.Errorf("Parse error = %v, want %s", err, want)
			}
		})
	}
}

// The same names in different objects are no duplicates.
func TestParseAcceptsSameNameInDifferentObjects(t *testing.T) {
	// contractor and sponsor both have an email.
	if _, err := event.Parse(mustRead(t, "valid/started.json")); err != nil {
		t.Fatalf("Parse = %v, want no error", err)
	}
	body := edit(t, "valid/started.json", func(m map[string]any) {
		data(m)["extra"] = []any{map[string]any{"a": 1}, map[string]any{"a": 2}}
	})
	if _, err := event.Parse(body); err != nil {
		t.Fatalf("Parse = %v, want no error", err)
	}
}

// replaceOnce returns the sample with the first occurrence of old replaced by
// new, as text: a duplicate member cannot be made through a map.
func replaceOnce(tb testing.TB, name, old, new string) []byte {
	tb.Helper()
	body := string(mustRead(tb, name))
	if !strings.Contains(body, old) {
		tb.Fatalf("%s holds no %q", name, old)
	}
	return []byte(strings.Replace(body, old, new, 1))
}
