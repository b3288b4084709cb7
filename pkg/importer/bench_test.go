package importer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/importer"
)

// list is a CSV list of n contractors.
func list(n int) string {
	var b strings.Builder
	b.WriteString("email,name,company,sponsor,access,start,end\n")
	for i := range n {
		fmt.Fprintf(&b, "c%d@partner.example,Contractor %d,Partner Ltd,owner@corp.example,contractor-access|github-org,2026-11-01,2027-02-28\n", i, i)
	}
	return b.String()
}

// Reading and checking a list: each row is built into an event and run
// through the event parser.
func BenchmarkReadAndBuild(b *testing.B) {
	const rows = 10_000
	text := list(rows)
	b.ResetTimer()
	for b.Loop() {
		got, problems := build(b, text, options())
		if len(problems) > 0 || len(got) != rows {
			b.Fatalf("%d items, %v", len(got), lines(problems))
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// Queueing a checked list as stint serve keeps it: the handled events
// read, the marks kept (a transaction each) and the events queued (one
// transaction) in one SQLite file.
func BenchmarkEnqueueEmbedded(b *testing.B) {
	const rows = 1_000
	items, _ := build(b, list(rows), options())
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		l, q := sqliteStore(b)
		b.StartTimer()
		sum, err := importer.Enqueue(context.Background(), l, q, items, nil)
		if err != nil || sum.Queued != rows {
			b.Fatalf("%+v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}
