package importer_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/importer"
)

func read(tb testing.TB, list string) ([]importer.Row, importer.Problems) {
	tb.Helper()
	rows, problems, err := importer.Read(strings.NewReader(list))
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return rows, problems
}

// lines renders problems as the command prints them.
func lines(ps importer.Problems) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}

// A CSV list as spreadsheets save it: a byte-order mark, headers in any
// case and order, quoted values holding commas, quotes and a line break,
// a blank row (counted, as a spreadsheet counts it), access keys split at
// ';' or '|'.
func TestReadCSV(t *testing.T) {
	list := "\ufeffEMAIL,Name,Company,access,End,START,engagementid,Sponsor\r\n" +
		"ana@partner.example,\"Lima, Ana\",\"Partner \"\"Ltd\"\"\",contractor-access;github-org,2027-02-28,,,owner@corp.example\r\n" +
		"\r\n" +
		" bo@vendor.example ,Bo,\"Vendor\nGmbH\",contractor-access | github-org,2027-03-31T18:00:00+01:00,2026-12-01,ENG-7,\r\n" +
		"cy@studio.example,Cy,,,2027-01-31,,,\r\n"
	rows, problems := read(t, list)
	if len(problems) > 0 {
		t.Fatalf("problems: %v", lines(problems))
	}
	want := []importer.Row{
		{Number: 2, Email: "ana@partner.example", Name: "Lima, Ana", Company: `Partner "Ltd"`, Access: []string{"contractor-access", "github-org"}, End: "2027-02-28", Sponsor: "owner@corp.example"},
		{Number: 4, Email: "bo@vendor.example", Name: "Bo", Company: "Vendor\nGmbH", Access: []string{"contractor-access", "github-org"}, End: "2027-03-31T18:00:00+01:00", Start: "2026-12-01", EngagementID: "ENG-7"},
		// Bo's company spans two lines of the file: still one row.
		{Number: 5, Email: "cy@studio.example", Name: "Cy", End: "2027-01-31"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("rows =\n%+v\nwant\n%+v", rows, want)
	}
}

// Spreadsheets in locales with a decimal comma save CSV with ';': a
// header with ';' and no ',' is read so, access keys then split at '|'.
func TestReadSemicolonCSV(t *testing.T) {
	rows, problems := read(t, "email;access;end\nana@partner.example;contractor-access|github-org;2027-02-28\n")
	want := []importer.Row{{Number: 2, Email: "ana@partner.example", Access: []string{"contractor-access", "github-org"}, End: "2027-02-28"}}
	if len(problems) > 0 || !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %+v, problems %v; want %+v", rows, lines(problems), want)
	}
}

// JSON lines: an object a line, members named in any case, access an
// array, null as absent; blank lines skipped, rows numbered by line.
func TestReadJSONLines(t *testing.T) {
	list := "\ufeff{\"email\":\"ana@partner.example\",\"Name\":\"Ana\",\"access\":[\"contractor-access\",\"github-org\"],\"end\":\"2027-02-28\",\"sponsor\":null}\n" +
		"\n" +
		"  {\"EMAIL\":\"bo@vendor.example\",\"END\":\"2027-03-31\",\"start\":\"2026-12-01\",\"engagementId\":\"ENG-7\",\"company\":\"Vendor\"}  \n"
	rows, problems := read(t, list)
	want := []importer.Row{
		{Number: 1, Email: "ana@partner.example", Name: "Ana", Access: []string{"contractor-access", "github-org"}, End: "2027-02-28"},
		{Number: 3, Email: "bo@vendor.example", End: "2027-03-31", Start: "2026-12-01", EngagementID: "ENG-7", Company: "Vendor"},
	}
	if len(problems) > 0 || !reflect.DeepEqual(rows, want) {
		t.Errorf("rows = %+v, problems %v; want %+v", rows, lines(problems), want)
	}
}

// Each bad row of the file gives one line, with its row, its column and
// why; the good rows are still read (and the command imports nothing).
func TestReadProblems(t *testing.T) {
	tests := []struct {
		name, list string
		want       []string
		rows       int
	}{
		{name: "unknown column", list: "email,end,acess\n",
			want: []string{`row 1, column acess: "acess" is not a column stint knows (want engagementId, email, name, company, sponsor, access, start, end)`}},
		{name: "column twice", list: "email,End,end\n",
			want: []string{"row 1, column end: is given twice in the header"}},
		{name: "required column missing", list: "email,name\n",
			want: []string{"row 1, column end: is missing from the header; every list needs email and end"}},
		{name: "column without a name", list: "email,,end\n",
			want: []string{"row 1, column 2: the header has an empty name; name every column"}},
		{name: "cells", rows: 1, list: "email,name,end\n" +
			"ana@partner.example,Ana,2027-02-28,extra\n" +
			"bo@vendor.example,Bo\n" +
			"cy@studio.example,Cy,2027-02-28\n" +
			"dee@x.example,D\xe9e,2027-02-28\n",
			want: []string{
				"row 2, column 4: the row has 4 cells and the header 3 (a comma inside a value needs the value in double quotes)",
				"row 3, column end: is missing: the row has 2 cells and the header 3",
				`row 5, column name: is not UTF-8 text: save the list as "CSV UTF-8"`,
			}},
		{name: "CSV syntax", rows: 1, list: "email,name,end\n" +
			"ana@partner.example,Ana,2027-02-28\n" +
			"\n" +
			"bo@vendor.example,\"Bo \"the\" builder\",2027-02-28\n" +
			"cy@studio.example,Cy,2027-02-28\n",
			want: []string{`row 4, column -: extraneous or missing " in quoted-field (line 4, character 23); the rows after it were not read`}},
		{name: "JSON lines", rows: 1, list: "{\"email\":\"ana@partner.example\",\"end\":\"2027-02-28\"}\n" +
			"[\"bo@vendor.example\"]\n" +
			"{\"email\":\"cy@studio.example\",\"end\":\"2027-02-28\",\"ends\":\"x\"}\n" +
			"{\"email\":\"dee@x.example\",\"Email\":\"dee@y.example\",\"end\":\"2027-02-28\"}\n" +
			"{\"email\":\"eve@x.example\",\"end\":20270228}\n" +
			"{\"email\":\"fay@x.example\",\"end\":\"2027-02-28\",\"access\":\"contractor-access\"}\n" +
			"{\"email\":\"gus@x.example\"}\n" +
			"{\"email\":\"hal@x.example\",\"end\":\"2027-02-28\"} {}\n" +
			"{\"email\":\"ivy@x.example\",\"end\":\"2027-02-28\",\"access\":[1]}\n" +
			"{\"email\":\"jo@x.example\",\"end\":\"2027-02-28\"\n",
			want: []string{
				`row 2, column -: is not a JSON object; want one contractor a line, e.g. {"email":"ana@partner.example","end":"2027-02-28"}`,
				`row 3, column ends: "ends" is not a column stint knows (want engagementId, email, name, company, sponsor, access, start, end)`,
				"row 4, column email: is given twice; each member may appear once",
				"row 5, column end: must be a string",
				`row 6, column access: must be an array of access keys, e.g. ["contractor-access"]`,
				"row 7, column end: is required",
				"row 8, column -: holds more than one JSON value; want one object a line",
				"row 9, column access: must be an array of access keys (strings)",
				"row 10, column -: is not valid JSON: the line ends inside the object",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows, problems := read(t, tt.list)
			if got := lines(problems); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(rows) != tt.rows {
				t.Errorf("%d good rows read, want %d", len(rows), tt.rows)
			}
		})
	}
}

// A file that is no list at all is an error, not a row's problem.
func TestReadRefusesAnEmptyFile(t *testing.T) {
	for _, list := range []string{"", "\ufeff \n\n"} {
		if _, _, err := importer.Read(strings.NewReader(list)); err == nil || !strings.Contains(err.Error(), "the list is empty") {
			t.Errorf("Read(%q) = %v, want it refused as empty", list, err)
		}
	}
}
