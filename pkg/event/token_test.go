package event_test

import (
	"testing"

	"github.com/stintdev/stint/pkg/event"
)

// Event.Key joins source and id with a space, so neither may hold one; nor
// any other whitespace or control character, which no URI-reference holds.
func TestParseRefusesWhitespaceInSourceAndID(t *testing.T) {
	const (
		source = ": a CloudEvents source is a URI-reference, which has none (e.g. hr/workday)"
		id     = ": an event id is a plain token; stint's deduplication key is the source, a space and the id"
	)
	tests := []struct {
		name, field, value, want string
	}{
		{"space in source", "source", "hr workday", `/source: must not hold whitespace or control characters, found U+0020 in "hr workday"` + source},
		{"trailing newline in source", "source", "hr/workday\n", `/source: must not hold whitespace or control characters, found U+000A in "hr/workday\n"` + source},
		{"no-break space in source", "source", "hr\u00a0workday", `/source: must not hold whitespace or control characters, found U+00A0 in "hr\u00a0workday"` + source},
		{"line separator in source", "source", "hr/\u2028workday", `/source: must not hold whitespace or control characters, found U+2028 in "hr/\u2028workday"` + source},
		{"byte order mark in source", "source", "\ufeffhr/workday", `/source: must not hold whitespace or control characters, found U+FEFF in "\ufeffhr/workday"` + source},
		{"space in id", "id", "01JD 6Z", `/id: must not hold whitespace or control characters, found U+0020 in "01JD 6Z"` + id},
		{"tab in id", "id", "01JD\t6Z", `/id: must not hold whitespace or control characters, found U+0009 in "01JD\t6Z"` + id},
		{"control character in id", "id", "01JD\x016Z", `/id: must not hold whitespace or control characters, found U+0001 in "01JD\x016Z"` + id},
		{"DEL in id", "id", "01JD\x7f", `/id: must not hold whitespace or control characters, found U+007F in "01JD\x7f"` + id},
		{"C1 control in id", "id", "01JD\u0085", `/id: must not hold whitespace or control characters, found U+0085 in "01JD\u0085"` + id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := edit(t, "valid/started.json", func(m map[string]any) { m[tt.field] = tt.value })
			_, err := event.Parse(body)
			if want := "invalid event: " + tt.want; err == nil || err.Error() != want {
				t.Errorf("Parse error =\n  %v\nwant\n  %s", err, want)
			}
		})
	}
}

func TestParseAcceptsURIReferenceSources(t *testing.T) {
	for _, source := range []string{
		"hr/workday",
		"https://hr.example/tenants/42?x=1#y",
		"urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
		"/hr/personio",
	} {
		t.Run(source, func(t *testing.T) {
			body := edit(t, "valid/started.json", func(m map[string]any) { m["source"] = source })
			ev, err := event.Parse(body)
			if err != nil {
				t.Fatalf("Parse = %v, want no error", err)
			}
			if got, want := ev.Key(), source+" "+ev.ID; got != want {
				t.Errorf("Key() = %q, want %q", got, want)
			}
		})
	}
}
