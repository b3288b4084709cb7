package engagement_test

import (
	"fmt"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
)

// BenchmarkMerge measures folding one event into a record that has seen a
// started event and an extension.
func BenchmarkMerge(b *testing.B) {
	rec, _ := fold(b, d(0), started("s", d(-30), d(-30), d(30)), extended("x", d(-10), d(60)))
	e := ended("e", d(-1), nil)
	for b.Loop() {
		if _, _, err := engagement.Merge(rec, e, d(0), opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlanAccess measures planning for a contractor with ten
// engagements, five of them active.
func BenchmarkPlanAccess(b *testing.B) {
	var engs []engagement.Engagement
	for i := range 10 {
		rec, _ := fold(b, d(0), other(fmt.Sprint("ENG-", i), started(fmt.Sprint("s", i), d(-30), d(float64(-20+4*i)), d(90), "contractor-access", "github-org")))
		engs = append(engs, rec)
	}
	c := engagement.Contractor{Key: "ana@partner.example", UserID: "u-1", Granted: []string{"contractor-access"}}
	for b.Loop() {
		engagement.PlanAccess(c, engs, d(0))
	}
}
