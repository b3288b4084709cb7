package importer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxFileSize bounds the list read (64 MiB, some hundreds of thousands of
// rows): a larger file is more likely the wrong file than a list.
const MaxFileSize = 64 << 20

// The columns, by their canonical names. Names in a file compare without
// regard to case.
const (
	ColEngagement = "engagementId"
	ColEmail      = "email"
	ColName       = "name"
	ColCompany    = "company"
	ColSponsor    = "sponsor"
	ColAccess     = "access"
	ColStart      = "start"
	ColEnd        = "end"
)

// Columns lists every column a list may have.
var Columns = []string{ColEngagement, ColEmail, ColName, ColCompany, ColSponsor, ColAccess, ColStart, ColEnd}

// required are the columns every list must have.
var required = []string{ColEmail, ColEnd}

// Row is one contractor of the list, as read: cells trimmed of spaces,
// access keys split, nothing else interpreted yet.
type Row struct {
	// Number is where the row is, as a person finds it: in a CSV file the
	// row a spreadsheet shows (the header is row 1); in JSON lines the
	// line.
	Number       int
	EngagementID string
	Email        string
	Name         string
	Company      string
	Sponsor      string
	Access       []string
	Start        string
	End          string
}

// set stores a cell's value under its canonical column.
func (r *Row) set(col, value string) {
	switch col {
	case ColEngagement:
		r.EngagementID = value
	case ColEmail:
		r.Email = value
	case ColName:
		r.Name = value
	case ColCompany:
		r.Company = value
	case ColSponsor:
		r.Sponsor = value
	case ColStart:
		r.Start = value
	case ColEnd:
		r.End = value
	}
}

// Problem is why one row cannot be imported: the row, the column and the
// reason, printed as "row N, column C: why".
type Problem struct {
	Row    int    `json:"row"`
	Column string `json:"column"`
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	return fmt.Sprintf("row %d, column %s: %s", p.Row, p.Column, p.Reason)
}

// Problems are the bad rows of a list, one Problem each, in file order.
// As an error it says nothing was imported and lists them, one a line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return fmt.Sprintf("%d bad row(s); nothing was imported:\n%s", len(ps), strings.Join(lines, "\n"))
}

// Read reads a list: JSON lines when its first character (after a
// byte-order mark and white space) is '{', CSV otherwise. It returns the
// good rows and one Problem per bad row; the error is for a file that
// cannot be read at all.
func Read(r io.Reader) ([]Row, Problems, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("import: read the list: %w", err)
	}
	if len(b) > MaxFileSize {
		return nil, nil, fmt.Errorf("import: the list is over %d MiB: is it the right file?", MaxFileSize>>20)
	}
	b = bytes.TrimPrefix(b, []byte("\ufeff"))
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil, errors.New("import: the list is empty: want a CSV header row (email, end, …) or JSON lines")
	}
	if bytes.TrimLeft(b, " \t\r\n")[0] == '{' {
		rows, problems := readJSONLines(b)
		return rows, problems, nil
	}
	rows, problems := readCSV(b)
	return rows, problems, nil
}

// column finds the canonical column of a name, ignoring case.
func column(name string) (string, bool) {
	for _, c := range Columns {
		if strings.EqualFold(c, name) {
			return c, true
		}
	}
	return "", false
}

// unknownColumn is the reason for a column or member stint does not know:
// refused rather than ignored, since a misspelt "acess" would otherwise
// grant the default access without a word.
func unknownColumn(name string) string {
	return fmt.Sprintf("%q is not a column stint knows (want %s)", name, strings.Join(Columns, ", "))
}

// splitAccess splits a CSV access cell at ';' or '|' (',' separates the
// cells), dropping empty keys.
func splitAccess(cell string) []string {
	var keys []string
	for k := range strings.FieldsFuncSeq(cell, func(r rune) bool { return r == ';' || r == '|' }) {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// delimiter is ',' unless the header has a ';' and no ',': spreadsheets
// in locales whose decimal mark is a comma save CSV with semicolons. Then
// access keys are separated with '|' only.
func delimiter(b []byte) rune {
	header, _, _ := bytes.Cut(b, []byte("\n"))
	if bytes.IndexByte(header, ';') >= 0 && bytes.IndexByte(header, ',') < 0 {
		return ';'
	}
	return ','
}

// readCSV reads a CSV list: a header row, then a contractor a row. Blank
// rows are skipped but counted, so that row numbers are the ones a
// spreadsheet shows (a quoted value may span lines; it is still one row).
// A syntax error ends the reading: what follows it cannot be told apart
// reliably.
func readCSV(b []byte) ([]Row, Problems) {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.Comma = delimiter(b)
	cr.FieldsPerRecord = -1
	var (
		rows     []Row
		problems Problems
		header   []string
		number   int // the spreadsheet row of the last record read
		lines    lineCounter
	)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			number += perr.StartLine - lines.last
			problems = append(problems, Problem{Row: number, Column: "-", Reason: fmt.Sprintf("%v (line %d, character %d); the rows after it were not read", perr.Err, perr.Line, perr.Column)})
			break
		}
		if err != nil {
			problems = append(problems, Problem{Row: number + 1, Column: "-", Reason: err.Error() + "; the rows after it were not read"})
			break
		}
		start, _ := cr.FieldPos(0)
		number += start - lines.last // blank lines between records are rows too
		lines.to(b, cr.InputOffset())
		if header == nil {
			var p *Problem
			if header, p = readHeader(rec, number); p != nil {
				return nil, Problems{*p}
			}
			continue
		}
		if blank(rec) {
			continue
		}
		row, p := csvRow(header, rec, number)
		if p != nil {
			problems = append(problems, *p)
			continue
		}
		rows = append(rows, row)
	}
	return rows, problems
}

// lineCounter follows the line the last record ended on.
type lineCounter struct {
	off  int64 // how far the file is counted
	nl   int   // newlines up to off
	last int   // the line the last record ended on
}

// to counts up to off, the end of a record (after its newline, if any).
func (c *lineCounter) to(b []byte, off int64) {
	c.nl += bytes.Count(b[c.off:off], []byte("\n"))
	c.off = off
	c.last = c.nl
	if off > 0 && b[off-1] != '\n' {
		c.last++ // the last line, without a newline
	}
}

// readHeader reads the header row into canonical column names; one
// Problem (row 1's only line) when it is wrong.
func readHeader(rec []string, number int) ([]string, *Problem) {
	header := make([]string, len(rec))
	for i, name := range rec {
		name = strings.TrimSpace(name)
		c, ok := column(name)
		switch {
		case name == "":
			return nil, &Problem{Row: number, Column: fmt.Sprintf("%d", i+1), Reason: "the header has an empty name; name every column"}
		case !ok:
			return nil, &Problem{Row: number, Column: name, Reason: unknownColumn(name)}
		case slices.Contains(header, c):
			return nil, &Problem{Row: number, Column: c, Reason: "is given twice in the header"}
		}
		header[i] = c
	}
	for _, c := range required {
		if !slices.Contains(header, c) {
			return nil, &Problem{Row: number, Column: c, Reason: fmt.Sprintf("is missing from the header; every list needs %s", strings.Join(required, " and "))}
		}
	}
	return header, nil
}

func blank(rec []string) bool {
	for _, cell := range rec {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}

// csvRow reads one record against the header.
func csvRow(header, rec []string, number int) (Row, *Problem) {
	if len(rec) > len(header) {
		return Row{}, &Problem{Row: number, Column: fmt.Sprintf("%d", len(header)+1), Reason: fmt.Sprintf("the row has %d cells and the header %d (a comma inside a value needs the value in double quotes)", len(rec), len(header))}
	}
	if len(rec) < len(header) {
		return Row{}, &Problem{Row: number, Column: header[len(rec)], Reason: fmt.Sprintf("is missing: the row has %d cells and the header %d", len(rec), len(header))}
	}
	row := Row{Number: number}
	for i, cell := range rec {
		if !utf8.ValidString(cell) {
			return Row{}, &Problem{Row: number, Column: header[i], Reason: "is not UTF-8 text: save the list as \"CSV UTF-8\""}
		}
		cell = strings.TrimSpace(cell)
		if header[i] == ColAccess {
			row.Access = splitAccess(cell)
			continue
		}
		row.set(header[i], cell)
	}
	return row, nil
}

// readJSONLines reads one JSON object a line; blank lines are skipped.
func readJSONLines(b []byte) ([]Row, Problems) {
	var rows []Row
	var problems Problems
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), MaxFileSize)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		row, p := jsonRow(line, n)
		if p != nil {
			problems = append(problems, *p)
			continue
		}
		rows = append(rows, row)
	}
	return rows, problems
}

// jsonRow reads one line: an object whose members are the columns (names
// compared without regard to case, each once), with string values, or an
// array of strings for access; null is the same as absent.
func jsonRow(line []byte, n int) (Row, *Problem) {
	bad := func(col, reason string) (Row, *Problem) { return Row{}, &Problem{Row: n, Column: col, Reason: reason} }
	invalid := func(col string, err error) (Row, *Problem) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return bad(col, "is not valid JSON: the line ends inside the object")
		}
		return bad(col, "is not valid JSON: "+err.Error())
	}
	if !utf8.Valid(line) {
		return bad("-", "is not UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad("-", "is not a JSON object; want one contractor a line, e.g. {\"email\":\"ana@partner.example\",\"end\":\"2027-02-28\"}")
	}
	row := Row{Number: n}
	var seen []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return invalid("-", err)
		}
		name, _ := t.(string)
		col, ok := column(name)
		switch {
		case !ok:
			return bad(name, unknownColumn(name))
		case slices.Contains(seen, col):
			return bad(col, "is given twice; each member may appear once")
		}
		seen = append(seen, col)
		var v any
		if err := dec.Decode(&v); err != nil {
			return invalid(col, err)
		}
		if reason := setJSON(&row, col, v); reason != "" {
			return bad(col, reason)
		}
	}
	if _, err := dec.Token(); err != nil {
		return invalid("-", err)
	}
	if dec.InputOffset() != int64(len(line)) {
		return bad("-", "holds more than one JSON value; want one object a line")
	}
	for _, c := range required {
		if !slices.Contains(seen, c) {
			return bad(c, "is required")
		}
	}
	return row, nil
}

// setJSON stores a member's value, or says why it cannot.
func setJSON(row *Row, col string, v any) string {
	if v == nil {
		return ""
	}
	if col == ColAccess {
		list, ok := v.([]any)
		if !ok {
			return "must be an array of access keys, e.g. [\"contractor-access\"]"
		}
		for _, item := range list {
			key, ok := item.(string)
			if !ok {
				return "must be an array of access keys (strings)"
			}
			if key = strings.TrimSpace(key); key != "" {
				row.Access = append(row.Access, key)
			}
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		return "must be a string"
	}
	row.set(col, strings.TrimSpace(s))
	return ""
}
