package event_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stintdev/stint/pkg/event"
)

const (
	schemaPath = "../../events/schema/engagement-event.v1.json"
	samplesDir = "../../events/samples"
)

// compileSchema loads the published schema with format assertions on, as a
// strict consumer of it would.
func compileSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	doc := readJSON(tb, schemaPath)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("schema.json", doc); err != nil {
		tb.Fatalf("add schema: %v", err)
	}
	s, err := c.Compile("schema.json")
	if err != nil {
		tb.Fatalf("compile schema: %v", err)
	}
	return s
}

func readJSON(tb testing.TB, path string) any {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return doc
}

type sample struct {
	name string
	body []byte
	want string // the Go validator's error; empty for a valid sample
}

func samples(tb testing.TB, dir string) []sample {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, dir, "*.json"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no samples in %s (%v)", dir, err)
	}
	var out []sample
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		s := sample{name: filepath.Base(f), body: body}
		if dir != "valid" {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".want")
			if err != nil {
				tb.Fatalf("%s has no .want file beside it: %v", f, err)
			}
			s.want = strings.TrimSpace(string(want))
		}
		out = append(out, s)
	}
	return out
}

// schemaErrors validates body against the schema and returns the instance
// locations of the leaf errors; a body that is not JSON is refused at "".
func schemaErrors(tb testing.TB, s *jsonschema.Schema, body []byte) (refused bool, locations []string) {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return true, []string{""}
	}
	err = s.Validate(doc)
	if err == nil {
		return false, nil
	}
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		tb.Fatalf("schema validation failed oddly: %v", err)
	}
	for _, leaf := range verr.BasicOutput().Errors {
		locations = append(locations, leaf.InstanceLocation)
	}
	return true, locations
}

func TestValidSamplesPassSchemaAndParser(t *testing.T) {
	schema := compileSchema(t)
	for _, s := range samples(t, "valid") {
		t.Run(s.name, func(t *testing.T) {
			if refused, locs := schemaErrors(t, schema, s.body); refused {
				t.Errorf("schema refused a valid sample at %v", locs)
			}
			if _, err := event.Parse(s.body); err != nil {
				t.Errorf("Parse = %v, want no error", err)
			}
		})
	}
}

// Every invalid sample is refused by both, and both point at the same field:
// the schema's error sits at the parser's JSON pointer, or at its parent when
// the field is missing (JSON Schema reports "required" on the parent object).
func TestInvalidSamplesRefusedBySchemaAndParser(t *testing.T) {
	schema := compileSchema(t)
	for _, s := range samples(t, "invalid") {
		t.Run(s.name, func(t *testing.T) {
			_, err := event.Parse(s.body)
			var perr *event.Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse error = %v, want an *event.Error", err)
			}
			if got := err.Error(); got != s.want {
				t.Errorf("Parse error =\n  %s\nwant\n  %s", got, s.want)
			}
			refused, locs := schemaErrors(t, schema, s.body)
			if !refused {
				t.Fatalf("schema accepted an invalid sample")
			}
			if !pointsAt(locs, perr) {
				t.Errorf("schema errors at %q, parser at %q: they disagree on the field", locs, perr.Pointer)
			}
		})
	}
}

func pointsAt(locs []string, perr *event.Error) bool {
	for _, loc := range locs {
		if loc == perr.Pointer {
			return true
		}
		missing := strings.HasPrefix(perr.Reason, "is required")
		if missing && loc == perr.Pointer[:strings.LastIndex(perr.Pointer, "/")] {
			return true
		}
		// A body that is not an object fails at the root either way.
		if perr.Pointer == "" && loc == "" {
			return true
		}
	}
	return false
}

// The rules JSON Schema cannot express (listed in the schema's description)
// are enforced by the parser alone. The schema's acceptance is asserted so
// that a sample the schema could catch is moved to invalid/.
func TestRuleSamplesRefusedByParser(t *testing.T) {
	schema := compileSchema(t)
	for _, s := range samples(t, "invalid-rules") {
		t.Run(s.name, func(t *testing.T) {
			_, err := event.Parse(s.body)
			if err == nil || err.Error() != s.want {
				t.Errorf("Parse error =\n  %v\nwant\n  %s", err, s.want)
			}
			if refused, locs := schemaErrors(t, schema, s.body); refused {
				t.Errorf("schema refuses this sample (at %v): move it to invalid/", locs)
			}
		})
	}
}
