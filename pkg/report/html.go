package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
)

//go:embed report.html.tmpl
var htmlSource string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"date":  day,
	"iso":   isoTime,
	"join":  func(s []string) string { return strings.Join(s, ", ") },
	"known": func(s []string) bool { return s != nil },
	"flags": func(fs []Flag) string { return strings.Join(flagStrings(fs), " ") },
}).Parse(htmlSource))

// WriteHTML writes the report as one self-contained page: no fetch of any
// kind (its Content-Security-Policy forbids them), inline CSS, JS and SVG.
func WriteHTML(w io.Writer, r Report) error {
	data := struct {
		Report
		Flags    []Flag
		Timeline timeline
	}{r, Flags, newTimeline(r)}
	if err := page.Execute(w, data); err != nil {
		return fmt.Errorf("report: write HTML: %w", err)
	}
	return nil
}

func flagStrings(fs []Flag) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = string(f)
	}
	return out
}

// day is t's date in UTC; "" when zero.
func day(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// timeline is the engagements chart, laid out for an SVG: one lane per row
// with an engagement in the window, a bar per engagement, month ticks, and
// a line at now.
type timeline struct {
	Width, Height float64
	Now           float64
	Ticks         []tick
	Lanes         []lane
}

type tick struct {
	X     float64
	Label string
}

type lane struct {
	Y, TextY float64
	Label    string
	Bars     []bar
}

type bar struct {
	X, W   float64
	Status engagement.Status
	Title  string
}

// The chart's geometry, in SVG user units.
const (
	chartLeft  = 200.0
	chartWidth = 1000.0
	laneHeight = 16.0
	chartTop   = 24.0
)

// newTimeline lays the engagements out from their earliest start to their
// latest end, but no more than a year either side of now, and at least a
// month either side.
func newTimeline(r Report) timeline {
	now := r.GeneratedAt
	lo, hi := now.AddDate(0, -1, 0), now.AddDate(0, 1, 0)
	for _, row := range r.Rows {
		for _, e := range row.Engagements {
			if !e.Start.IsZero() && e.Start.Before(lo) {
				lo = e.Start
			}
			if e.End.After(hi) {
				hi = e.End
			}
		}
	}
	lo, hi = later(lo, now.AddDate(-1, 0, 0)), earlier(hi, now.AddDate(1, 0, 0))
	x := func(t time.Time) float64 {
		t = later(earlier(t, hi), lo)
		return chartLeft + chartWidth*float64(t.Sub(lo))/float64(hi.Sub(lo))
	}
	tl := timeline{Width: chartLeft + chartWidth + 10, Now: x(now)}
	for _, row := range r.Rows {
		var bars []bar
		for _, e := range row.Engagements {
			start, end := e.Start, e.End
			if start.IsZero() || end.IsZero() || end.Before(lo) || start.After(hi) {
				continue
			}
			bars = append(bars, bar{X: x(start), W: max(x(end)-x(start), 2), Status: e.Status,
				Title: fmt.Sprintf("%s: %s to %s (%s)", e.ID, day(start), day(end), e.Status)})
		}
		if len(bars) == 0 {
			continue
		}
		y := chartTop + laneHeight*float64(len(tl.Lanes))
		tl.Lanes = append(tl.Lanes, lane{Y: y + 3, TextY: y + 12, Label: truncate(cmpOr(row.Name, row.Email), 30), Bars: bars})
	}
	tl.Height = chartTop + laneHeight*float64(len(tl.Lanes)) + 8
	months := int(hi.Sub(lo).Hours()/24/30) + 1
	step := max(1, months/12)
	for m := time.Date(lo.Year(), lo.Month()+1, 1, 0, 0, 0, 0, time.UTC); m.Before(hi); m = m.AddDate(0, step, 0) {
		tl.Ticks = append(tl.Ticks, tick{X: x(m), Label: m.Format("Jan 2006")})
	}
	return tl
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
