package report_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/report"
)

// fakeLedger holds contractors, engagements and marks.
type fakeLedger struct {
	contractors []engagement.Contractor
	engagements map[string][]engagement.Engagement
	marks       map[string]string
}

var _ report.Ledger = (*fakeLedger)(nil)

func (f *fakeLedger) Contractors(context.Context) iter.Seq2[engagement.Contractor, error] {
	return func(yield func(engagement.Contractor, error) bool) {
		for _, c := range f.contractors {
			if !yield(c, nil) {
				return
			}
		}
	}
}

func (f *fakeLedger) ContractorEngagements(_ context.Context, key string) ([]engagement.Engagement, error) {
	return f.engagements[key], nil
}

func (f *fakeLedger) Marks(_ context.Context, prefix string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range f.marks {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, nil
}

// directoryFunc is a report.Directory from a function.
type directoryFunc func(context.Context, []string) (map[string]report.Account, error)

func (f directoryFunc) Accounts(ctx context.Context, ids []string) (map[string]report.Account, error) {
	return f(ctx, ids)
}

// Gather reads the ledger and the reconcile's ghosts; Entra and the
// coverage, when they fail, become notes and stay unknown.
func TestGather(t *testing.T) {
	l := &fakeLedger{
		contractors: []engagement.Contractor{{Key: "c@x.example", UserID: "u-c"}, {Key: "d@x.example"}},
		engagements: map[string][]engagement.Engagement{"c@x.example": {eng("E-1", "c@x.example", -day, day, "a")}},
		marks: map[string]string{"ghost/g-a/u-g": now.Add(-2 * day).Format(time.RFC3339), "ghost/g-b/u-g": now.Add(-day).Format(time.RFC3339),
			"reconcile/next-group": "1"},
	}
	var asked []string
	in, err := report.Gather(context.Background(), report.Sources{Ledger: l, Now: now,
		Directory: directoryFunc(func(_ context.Context, ids []string) (map[string]report.Account, error) {
			asked = ids
			return nil, errors.New("Graph is down")
		}),
		Coverage: func(context.Context) (map[string]bool, error) { return nil, errors.New("Policy.Read.All missing") },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Contractors) != 2 || len(in.Engagements) != 1 {
		t.Errorf("%d contractors, %d engagements; want 2 and 1", len(in.Contractors), len(in.Engagements))
	}
	if len(in.Findings.Ghosts) != 1 || !in.Findings.Ghosts["u-g"].Equal(now.Add(-2*day)) {
		t.Errorf("ghosts = %v, want u-g first seen two days ago (its earliest sighting)", in.Findings.Ghosts)
	}
	if len(asked) != 1 || asked[0] != "u-c" {
		t.Errorf("accounts asked for = %v, want the contractors' user ids", asked)
	}
	notes := strings.Join(in.Notes, "\n")
	if in.Accounts != nil || in.Covered != nil || !strings.Contains(notes, "Graph is down") || !strings.Contains(notes, "Policy.Read.All missing") {
		t.Errorf("accounts %v, covered %v, notes %q: want both unknown and said why", in.Accounts, in.Covered, notes)
	}
}
