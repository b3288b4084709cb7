package report_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/report"
)

// The fixture represents every flag, so that the format tests and the
// browser test see each of them.
func TestFixtureHasEveryFlag(t *testing.T) {
	rep := report.Build(fifty())
	for _, f := range report.Flags {
		n := 0
		for _, r := range rep.Rows {
			if r.Has(f) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no row flagged %s", f)
		}
	}
	if rep.Summary.Contractors != 50 || rep.Summary.Ghosts != 3 || rep.Summary.Critical != 1 {
		t.Errorf("summary = %+v, want 50 contractors, 3 ghosts, 1 critical", rep.Summary)
	}
}

func TestCSV(t *testing.T) {
	rep := report.Build(fifty())
	var buf bytes.Buffer
	if err := report.WriteCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	if !bytes.HasPrefix(raw, []byte("\xEF\xBB\xBF")) {
		t.Fatalf("CSV starts %q, want the UTF-8 byte order mark", raw[:3])
	}
	lines, err := csv.NewReader(bytes.NewReader(raw[3:])).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse back: %v", err)
	}
	if len(lines) != 1+len(rep.Rows) || !slices.Equal(lines[0], report.CSVHeader) {
		t.Fatalf("%d lines, header %v; want a header and %d rows", len(lines), lines[0], len(rep.Rows))
	}
	col := func(name string) int { return slices.Index(report.CSVHeader, name) }
	first := lines[1]
	if got := first[col("name")]; got != `'=HYPERLINK("x")` {
		t.Errorf("a name starting with = is written %q, want it prefixed with a quote", got)
	}
	if got := first[col("engagements")]; got != "ENG-000 2026-05-26T12:00:00Z/2026-07-15T12:00:00Z active (hr)" {
		t.Errorf("engagements = %q, want id, ISO 8601 start/end, status and source", got)
	}
	if got := first[col("ends")]; got != "2026-07-15T12:00:00Z" {
		t.Errorf("ends = %q, want ISO 8601 UTC", got)
	}
	for _, l := range lines[1:] {
		for i, cell := range l {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("%s = %q: a cell a spreadsheet would read as a formula", report.CSVHeader[i], cell)
			}
		}
	}
	if !bytes.Contains(raw, []byte("\r\n")) {
		t.Errorf("lines end with LF only; Excel expects CRLF")
	}
	var unknownSignIn bool
	for _, l := range lines[1:] {
		if l[col("user_id")] == "u-08" {
			unknownSignIn = l[col("last_interactive")] == "unknown" && l[col("account")] == report.StateBlockedByAdmin
		}
	}
	if !unknownSignIn {
		t.Errorf("u-08's sign-ins are unknown and its account blocked by an admin; the CSV says otherwise")
	}
}

func TestJSONShape(t *testing.T) {
	in := fifty()
	rep := report.Build(in)
	var buf bytes.Buffer
	if err := report.WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		GeneratedAt  string         `json:"generatedAt"`
		DormantAfter string         `json:"dormantAfter"`
		Summary      map[string]int `json:"summary"`
		Rows         []map[string]json.RawMessage
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.GeneratedAt != "2026-06-15T12:00:00Z" || doc.DormantAfter != "720h0m0s" {
		t.Errorf("generatedAt %q, dormantAfter %q", doc.GeneratedAt, doc.DormantAfter)
	}
	if doc.Summary["contractors"] != 50 || doc.Summary["ghosts"] != 3 || doc.Summary["critical"] != 1 {
		t.Errorf("summary = %v", doc.Summary)
	}
	if len(doc.Rows) != 53 {
		t.Fatalf("%d rows, want 53", len(doc.Rows))
	}
	for _, key := range []string{"contractor", "name", "email", "company", "sponsor", "entraSponsors", "status", "engagements", "groups", "account", "invitation", "signIns", "flags"} {
		if _, ok := doc.Rows[0][key]; !ok {
			t.Errorf("row lacks %q: %s", key, doc.Rows[0])
		}
	}
	// Unknown is null; known-but-empty is a value.
	if got := string(doc.Rows[8]["signIns"]); got != "null" {
		t.Errorf("unknown sign-ins = %s, want null", got)
	}
	if got := string(doc.Rows[8]["entraSponsors"]); got != "null" {
		t.Errorf("unread sponsors = %s, want null", got)
	}
	if got := string(doc.Rows[7]["groups"]); got != "[]" {
		t.Errorf("no group in Entra = %s, want []", got)
	}
	var flags []string
	if err := json.Unmarshal(doc.Rows[1]["flags"], &flags); err != nil || !slices.Equal(flags, []string{"ending-soon"}) {
		t.Errorf("flags = %s, want [\"ending-soon\"]", doc.Rows[1]["flags"])
	}
}
