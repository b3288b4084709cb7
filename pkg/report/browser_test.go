package report_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/report"
)

// chromium is Debian's headless browser (.ci/run installs it). The test
// fails without it: a page no browser ran is not checked.
const chromium = "/usr/bin/chromium"

// page writes the fifty-contractor report as HTML and returns its path
// (kept in $STINT_REPORT_KEEP when set, for the screenshot).
func page(tb testing.TB) (string, report.Report) {
	tb.Helper()
	rep := report.Build(fifty())
	dir := os.Getenv("STINT_REPORT_KEEP")
	if dir == "" {
		dir = tb.TempDir()
	}
	path := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, rep); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path, rep
}

// dumpDOM loads file#fragment in headless Chromium and returns the DOM
// after the page's scripts ran.
func dumpDOM(tb testing.TB, path, fragment string) string {
	tb.Helper()
	if _, err := os.Stat(chromium); err != nil {
		tb.Fatalf("%s is missing (%v): install Debian's chromium (apt-get install chromium), as .ci/run does", chromium, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
		"--user-data-dir="+tb.TempDir(), "--dump-dom", "file://"+path+fragment)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		tb.Fatalf("chromium: %v\n%s", err, errOut.String())
	}
	dom := out.String()
	if !strings.Contains(dom, `data-ready="true"`) {
		tb.Fatalf("the page's script did not finish (no data-ready on <html>); chromium said:\n%s", errOut.String())
	}
	return dom
}

// shownRow is a table row as the browser left it.
type shownRow struct {
	flags, user string
	hidden      bool
}

var rowRe = regexp.MustCompile(`<tr data-flags="([^"]*)" data-user="([^"]*)"( hidden="")?>`)

func rows(dom string) []shownRow {
	var out []shownRow
	for _, m := range rowRe.FindAllStringSubmatch(dom, -1) {
		out = append(out, shownRow{flags: m[1], user: m[2], hidden: m[3] != ""})
	}
	return out
}

func visible(rs []shownRow) []shownRow {
	return slices.DeleteFunc(slices.Clone(rs), func(r shownRow) bool { return r.hidden })
}

func TestBrowserRendersTheReport(t *testing.T) {
	path, rep := page(t)
	html, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("self-contained: no address to fetch, a policy that forbids fetching", func(t *testing.T) {
		if !bytes.Contains(html, []byte(`content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"`)) {
			t.Errorf("no Content-Security-Policy forbidding fetches")
		}
		for _, s := range []string{"http:", "https:", "src=", "href=", "@import", "url("} {
			if bytes.Contains(html, []byte(s)) {
				t.Errorf("the page contains %q: it may fetch something", s)
			}
		}
	})

	t.Run("every row, unfiltered", func(t *testing.T) {
		t.Parallel()
		dom := dumpDOM(t, path, "")
		rs := rows(dom)
		if len(rs) != len(rep.Rows) || len(visible(rs)) != len(rep.Rows) {
			t.Errorf("%d rows, %d shown; want %d, all shown", len(rs), len(visible(rs)), len(rep.Rows))
		}
		if !strings.Contains(dom, `<span id="shown">53</span>`) {
			t.Errorf("the count of shown rows is not 53")
		}
		if n := strings.Count(dom, "<g class=\"lane\">"); n != 50 {
			t.Errorf("the timeline has %d lanes, want one per contractor (50)", n)
		}
		if !strings.Contains(dom, `class="now"`) {
			t.Errorf("the timeline has no line for today")
		}
		if strings.Contains(dom, "<script>alert(1)</script>") || !strings.Contains(dom, "&lt;script&gt;alert(1)&lt;/script&gt; O'Brien &amp; Co") {
			t.Errorf("a name with markup was not escaped")
		}
	})

	for _, f := range report.Flags {
		t.Run("filtered by "+string(f), func(t *testing.T) {
			t.Parallel()
			rs := visible(rows(dumpDOM(t, path, "#flag="+string(f))))
			want := 0
			for _, r := range rep.Rows {
				if r.Has(f) {
					want++
				}
			}
			if len(rs) != want || want == 0 {
				t.Errorf("%d rows shown, want the %d flagged %s", len(rs), want, f)
			}
			for _, r := range rs {
				if !slices.Contains(strings.Fields(r.flags), string(f)) {
					t.Errorf("row %s (flags %q) shown under the %s filter", r.user, r.flags, f)
				}
			}
		})
	}

	t.Run("filtered by two flags shows either", func(t *testing.T) {
		t.Parallel()
		rs := visible(rows(dumpDOM(t, path, "#flag=ghost,signed-in-after-end")))
		if len(rs) != rep.Summary.Ghosts+rep.Summary.Critical {
			t.Errorf("%d rows shown, want %d", len(rs), rep.Summary.Ghosts+rep.Summary.Critical)
		}
	})

	t.Run("filtered by text", func(t *testing.T) {
		t.Parallel()
		rs := visible(rows(dumpDOM(t, path, "#q=vendor3.example")))
		if len(rs) != 12 {
			t.Errorf("%d rows shown for vendor3.example, want 12", len(rs))
		}
	})

	t.Run("sorted by end, latest first", func(t *testing.T) {
		t.Parallel()
		dom := dumpDOM(t, path, "#sort=ends&dir=desc")
		if !strings.Contains(dom, `data-sorted="ends desc"`) || !strings.Contains(dom, `data-key="ends" aria-sort="descending"`) {
			t.Fatalf("the table is not marked sorted by ends, descending")
		}
		ends := regexp.MustCompile(`<td data-key="ends" data-sort="([^"]*)">`).FindAllStringSubmatch(dom, -1)
		var got []string
		for _, m := range ends {
			if m[1] != "" {
				got = append(got, m[1])
			}
		}
		if len(got) != 50 || !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("ends in DOM order = %v, want 50, latest first", got)
		}
		if rs := rows(dom); rs[len(rs)-1].flags != "ghost" {
			t.Errorf("the last row is %+v, want a ghost (no end sorts last)", rs[len(rs)-1])
		}
	})
}
