package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
)

// BenchmarkPutEngagement measures one durable versioned write (a create).
func BenchmarkPutEngagement(b *testing.B) {
	l := openTemp(b)
	defer l.Close()
	ctx := context.Background()
	i := 0
	for b.Loop() {
		e := ledgertest.Record(fmt.Sprint("ENG-", i), "ana@partner.example", engagement.Active, day(-1), day(30))
		if _, err := l.PutEngagement(ctx, e); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkDueEnds measures the tick's query among 10,000 quiet records and
// 10 due ones.
func BenchmarkDueEnds(b *testing.B) {
	l := openTemp(b)
	defer l.Close()
	ctx := context.Background()
	for i := range 10_010 {
		end := day(30)
		if i%1001 == 0 {
			end = day(-1)
		}
		if _, err := l.PutEngagement(ctx, ledgertest.Record(fmt.Sprint("ENG-", i), "c@x.example", engagement.Active, day(-60), end)); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		due, err := l.DueEnds(ctx, day(0), 0)
		if err != nil || len(due) != 10 {
			b.Fatalf("DueEnds = %d records, %v; want 10", len(due), err)
		}
	}
}
