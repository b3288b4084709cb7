package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
)

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("report: write JSON: %w", err)
	}
	return nil
}

// CSVHeader names the CSV's columns.
var CSVHeader = []string{"name", "email", "company", "sponsor", "entra_sponsors", "status", "engagements", "ends",
	"groups", "account", "invitation", "created", "last_interactive", "last_non_interactive", "signed_in_after_end", "flags", "user_id"}

// WriteCSV writes one line per row, for spreadsheets: a UTF-8 byte order
// mark, ISO 8601 times, engagements joined with "; ", and cells that a
// spreadsheet would read as a formula prefixed with a quote.
func WriteCSV(w io.Writer, r Report) error {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	lines := [][]string{CSVHeader}
	for _, row := range r.Rows {
		lines = append(lines, csvLine(row))
	}
	for _, line := range lines {
		for i := range line {
			line[i] = defuse(line[i])
		}
		if err := cw.Write(line); err != nil {
			return fmt.Errorf("report: write CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: write CSV: %w", err)
	}
	return nil
}

// csvLine is a row's cells, in CSVHeader's order.
func csvLine(r Row) []string {
	var engs []string
	for _, e := range r.Engagements {
		engs = append(engs, fmt.Sprintf("%s %s/%s %s (%s)", e.ID, isoTime(e.Start), isoTime(e.End), e.Status, e.Source))
	}
	var flags []string
	for _, f := range r.Flags {
		flags = append(flags, string(f))
	}
	inter, nonInter := Unknown, Unknown
	if r.SignIns != nil {
		inter, nonInter = orNever(r.SignIns.LastInteractive), orNever(r.SignIns.LastNonInteractive)
	}
	return []string{r.Name, r.Email, r.Company, r.Sponsor, orUnknown(r.EntraSponsors), string(r.Status), strings.Join(engs, "; "),
		isoTime(r.Ends()), orUnknown(r.Groups), r.Account, r.Invitation, isoTime(r.Created), inter, nonInter,
		isoTime(r.SignedInAfterEnd), strings.Join(flags, " "), r.UserID}
}

// Unknown is written where a value could not be read.
const Unknown = "unknown"

// isoTime is t in RFC 3339 (ISO 8601) UTC, to the second; "" when zero.
func isoTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return isoTime(t)
}

func orUnknown(s []string) string {
	if s == nil {
		return Unknown
	}
	return strings.Join(s, " ")
}

// defuse prefixes a cell a spreadsheet would take for a formula (= + - @,
// or a tab or carriage return before one) with a quote, which shows as
// text.
func defuse(cell string) string {
	if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// Ends is when the row's access ends as the engagements stand: the latest
// end of an active or pending engagement, else of any; zero for none.
func (r Row) Ends() time.Time {
	var live, last time.Time
	for _, e := range r.Engagements {
		if e.End.After(last) {
			last = e.End
		}
		if e.Status != engagement.Ended && e.End.After(live) {
			live = e.End
		}
	}
	if !live.IsZero() {
		return live
	}
	return last
}
