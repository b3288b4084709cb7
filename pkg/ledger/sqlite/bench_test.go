package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
)

// BenchmarkCommit measures one durable settle: a contractor and a new
// engagement, versioned, with an audit entry.
func BenchmarkCommit(b *testing.B) {
	l := openTemp(b)
	defer l.Close()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		key := fmt.Sprint("c", i, "@x.example")
		e := ledgertest.Record(fmt.Sprint("ENG-", i), key, engagement.Active, day(-1), day(30))
		if _, _, err := l.Commit(ctx, engagement.Change{Contractor: engagement.Contractor{Key: key}, Engagements: []engagement.Engagement{e},
			Audit: []engagement.AuditEntry{{Contractor: key, Action: engagement.EventApplied}}}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDue measures the tick's query among 10,000 quiet records and 10
// due ones.
func BenchmarkDue(b *testing.B) {
	l := openTemp(b)
	defer l.Close()
	ctx := context.Background()
	var recs []engagement.Engagement
	for i := range 10_010 {
		end := day(30)
		if i%1001 == 0 {
			end = day(-1)
		}
		recs = append(recs, ledgertest.Record(fmt.Sprint("ENG-", i), fmt.Sprint("c", i, "@x.example"), engagement.Active, day(-60), end))
	}
	ledgertest.Put(b, l, recs...)
	for b.Loop() {
		due, err := l.Due(ctx, day(0), 0)
		if err != nil || len(due) != 10 {
			b.Fatalf("Due = %d records, %v; want 10", len(due), err)
		}
	}
}
