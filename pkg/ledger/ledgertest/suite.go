// Package ledgertest is the conformance suite every engagement.Ledger
// backend must pass. A backend's test calls Run with a function that opens a
// fresh, empty ledger.
package ledgertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Opener returns a fresh, empty ledger; the suite closes it.
type Opener func(t *testing.T) engagement.Ledger

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return t0.Add(time.Duration(n) * 24 * time.Hour) }

// Record builds an engagement record in the given applied state.
func Record(id, contractor string, state engagement.Status, start, end time.Time) engagement.Engagement {
	return engagement.Engagement{
		ID: id, Contractor: contractor, Email: contractor, Source: "hr/test",
		Access: []string{"contractor-access"}, StartsAt: start, EndsAt: end, Started: true,
		StartedBy: engagement.Stamp{Time: start, EventID: id + "-s", Type: "engagement.started"},
		Last:      engagement.Stamp{Time: start, EventID: id + "-s", Type: "engagement.started"},
		State:     state,
	}
}

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		f    func(t *testing.T, l engagement.Ledger)
	}{
		{"missing records are not found", testNotFound},
		{"an engagement round-trips", testRoundTrip},
		{"versions guard updates", testVersions},
		{"two writers race on one record and exactly one wins", testRace},
		{"engagements by contractor", testByContractor},
		{"due starts and due ends", testDue},
		{"all active, across pages", testActive},
		{"contractor records", testContractor},
		{"the audit trail", testAudit},
		{"all contractors", testContractors},
		{"marks", testMarks},
		{"marks by a prefix beyond ASCII", testMarksPrefix},
		{"a commit stores a settle and its trail", testCommit},
		{"a commit with one stale version stores nothing", testCommitAllOrNothing},
		{"leases", testLeases},
		{"eight holders race for a lease and exactly one wins", testLeaseRace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := open(t)
			defer l.Close()
			tt.f(t, l)
		})
	}
}

func testNotFound(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	if _, err := l.Engagement(ctx, "ENG-none"); !fault.Is(err, fault.NotFound) {
		t.Errorf("Engagement(missing) error = %v, want not found", err)
	}
	if _, err := l.Contractor(ctx, "none@x.example"); !fault.Is(err, fault.NotFound) {
		t.Errorf("Contractor(missing) error = %v, want not found", err)
	}
	got, err := l.ContractorEngagements(ctx, "none@x.example")
	if err != nil || len(got) != 0 {
		t.Errorf("ContractorEngagements(none) = %v, %v; want empty", got, err)
	}
}

func testRoundTrip(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	e := Record("ENG-1", "ana@partner.example", engagement.Active, day(-1), day(30))
	e.Sponsor, e.DisplayName, e.Terminated = "owner@corp.example", "Ana Lima", true
	e.StartsAt = e.StartsAt.Add(123456789 * time.Nanosecond)
	_, engs, err := l.Commit(ctx, engagement.Change{Contractor: engagement.Contractor{Key: e.Contractor}, Engagements: []engagement.Engagement{e}})
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	stored := engs[0]
	if stored.Version != 1 || stored.UpdatedAt.IsZero() {
		t.Errorf("stored Version = %d, UpdatedAt = %v; want 1 and set", stored.Version, stored.UpdatedAt)
	}
	got, err := l.Engagement(ctx, "ENG-1")
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, stored) {
		t.Errorf("Engagement() =\n  %+v\nwant\n  %+v", got, stored)
	}
}

func testVersions(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	key := "ana@partner.example"
	e := Record("ENG-1", key, engagement.Pending, day(1), day(30))
	c1, engs, err := l.Commit(ctx, engagement.Change{Contractor: engagement.Contractor{Key: key}, Engagements: []engagement.Engagement{e}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.Commit(ctx, engagement.Change{Contractor: engagement.Contractor{Key: key}, Engagements: []engagement.Engagement{e}}); !fault.Is(err, fault.Conflict) {
		t.Errorf("creating the contractor again: error = %v, want conflict", err)
	}
	v1 := engs[0]
	v1.State = engagement.Active
	c2, engs, err := l.Commit(ctx, engagement.Change{Contractor: c1, Engagements: []engagement.Engagement{v1}})
	if err != nil || c2.Version != 2 || engs[0].Version != 2 {
		t.Fatalf("commit at version 1 = contractor v%d, %v; want version 2", c2.Version, err)
	}
	v1.EndsAt = day(60)
	if _, _, err := l.Commit(ctx, engagement.Change{Contractor: c1, Engagements: []engagement.Engagement{v1}}); !fault.Is(err, fault.Conflict) {
		t.Errorf("commit at stale version 1: error = %v, want conflict", err)
	}
	got, _ := l.Engagement(ctx, "ENG-1")
	if got.Version != 2 || !got.EndsAt.Equal(day(30)) || got.State != engagement.Active {
		t.Errorf("after the lost commit: version %d, end %v, state %s; want the winner's", got.Version, got.EndsAt, got.State)
	}
}

func testRace(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	key := "ana@partner.example"
	Put(t, l, Record("ENG-1", key, engagement.Pending, day(1), day(30)))
	c, _ := l.Contractor(ctx, key)
	base, _ := l.Engagement(ctx, "ENG-1")
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	start := make(chan struct{})
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := base
			e.EndsAt = day(40 + i)
			<-start
			_, _, errs[i] = l.Commit(ctx, engagement.Change{Contractor: c, Engagements: []engagement.Engagement{e},
				Audit: []engagement.AuditEntry{{Contractor: key, Action: "test", Detail: fmt.Sprint("writer ", i)}}})
		}()
	}
	close(start)
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Errorf("writers %d and %d both won", won, i)
		case err == nil:
			won = i
		case !fault.Is(err, fault.Conflict):
			t.Errorf("writer %d: error = %v, want conflict", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no writer won")
	}
	got, _ := l.Engagement(ctx, "ENG-1")
	if got.Version != 2 || !got.EndsAt.Equal(day(40+won)) {
		t.Errorf("stored version %d, end %v; want version 2 with writer %d's end", got.Version, got.EndsAt, won)
	}
	trail, _ := l.Audit(ctx, engagement.AuditQuery{Contractor: key})
	if got := details(trail); !slices.Equal(got, []string{fmt.Sprint("writer ", won)}) {
		t.Errorf("trail = %v, want the winner's entry alone", got)
	}
}

func testByContractor(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	put(t, l,
		Record("ENG-2", "ana@partner.example", engagement.Active, day(-1), day(30)),
		Record("ENG-1", "ana@partner.example", engagement.Ended, day(-90), day(-10)),
		Record("ENG-3", "bo@vendor.example", engagement.Active, day(-1), day(30)),
	)
	got, err := l.ContractorEngagements(ctx, "ana@partner.example")
	if err != nil {
		t.Fatal(err)
	}
	if ids := idsOf(got); !slices.Equal(ids, []string{"ENG-1", "ENG-2"}) {
		t.Errorf("ContractorEngagements(ana) = %v, want ENG-1 (ended) and ENG-2", ids)
	}
}

func testDue(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	now := day(0)
	notGranted := Record("P-ungranted", "c@x.example", engagement.Pending, day(-5), day(-1))
	notGranted.Started = false
	put(t, l,
		Record("P-due-late", "a@x.example", engagement.Pending, day(-1), day(30)),
		Record("P-due-early", "a@x.example", engagement.Pending, day(-2), day(30)),
		Record("P-due-now", "b@x.example", engagement.Pending, now, day(30)),
		Record("P-future", "a@x.example", engagement.Pending, day(1), day(30)),
		notGranted,
		Record("A-due", "a@x.example", engagement.Active, day(-30), day(-1)),
		Record("A-due-now", "b@x.example", engagement.Active, day(-30), now),
		Record("A-running", "b@x.example", engagement.Active, day(-30), day(5)),
		Record("E-ended", "b@x.example", engagement.Ended, day(-30), day(-20)),
	)
	due, err := l.Due(ctx, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"P-due-early", "A-due", "P-due-late", "P-ungranted", "A-due-now", "P-due-now"}
	if ids := idsOf(due); !slices.Equal(ids, want) {
		t.Errorf("Due = %v, want %v: the due records of any state, oldest due first, ties by id", ids, want)
	}
	if got, _ := l.Due(ctx, now, 2); !slices.Equal(idsOf(got), want[:2]) {
		t.Errorf("Due with limit 2 = %v, want the 2 oldest", idsOf(got))
	}

	// Moving a record out of its state takes it out of the due list; a
	// failed settle's retry puts it back at its retry time, ended or not.
	e, _ := l.Engagement(ctx, "A-due")
	e.State = engagement.Ended
	put(t, l, e)
	if got, _ := l.Due(ctx, now, 0); slices.Contains(idsOf(got), "A-due") {
		t.Errorf("Due after ending A-due = %v, want it gone", idsOf(got))
	}
	e, _ = l.Engagement(ctx, "A-due")
	e.RetryAt, e.Failures = now.Add(time.Minute), 1
	put(t, l, e)
	if got, _ := l.Due(ctx, now, 0); slices.Contains(idsOf(got), "A-due") {
		t.Errorf("Due before the retry time = %v, want A-due absent", idsOf(got))
	}
	if got, _ := l.Due(ctx, now.Add(time.Minute), 0); !slices.Contains(idsOf(got), "A-due") {
		t.Errorf("Due at the retry time = %v, want the ended A-due again", idsOf(got))
	}
}

func testActive(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	const n = 1203
	var recs []engagement.Engagement
	for i := range n {
		recs = append(recs, Record(fmt.Sprintf("ENG-%05d", i), fmt.Sprintf("c%d@x.example", i%50), engagement.Active, day(-1), day(30)))
	}
	recs = append(recs, Record("ENG-pending", "p@x.example", engagement.Pending, day(1), day(30)))
	recs = append(recs, Record("ENG-ended", "p@x.example", engagement.Ended, day(-9), day(-1)))
	put(t, l, recs...)
	seen := map[string]bool{}
	for e, err := range l.Active(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if e.State != engagement.Active || seen[e.ID] {
			t.Fatalf("Active yielded %s (state %s, seen before %v)", e.ID, e.State, seen[e.ID])
		}
		seen[e.ID] = true
	}
	if len(seen) != n {
		t.Errorf("Active yielded %d records, want %d", len(seen), n)
	}
	count := 0
	for range l.Active(ctx) {
		if count++; count == 10 {
			break
		}
	}
	if count != 10 {
		t.Errorf("stopping the iteration early: got %d", count)
	}
}

func testContractor(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	c := engagement.Contractor{Key: "ana@partner.example", UserID: "u-1", Guest: true, Granted: []string{"contractor-access"}}
	v1, err := l.PutContractor(ctx, c)
	if err != nil || v1.Version != 1 {
		t.Fatalf("PutContractor = %d, %v; want version 1", v1.Version, err)
	}
	if _, err := l.PutContractor(ctx, c); !fault.Is(err, fault.Conflict) {
		t.Errorf("creating it again: error = %v, want conflict", err)
	}
	v1.Blocked, v1.DisabledByStint, v1.Granted = true, true, nil
	v2, err := l.PutContractor(ctx, v1)
	if err != nil || v2.Version != 2 {
		t.Fatalf("update = %d, %v; want version 2", v2.Version, err)
	}
	if _, err := l.PutContractor(ctx, v1); !fault.Is(err, fault.Conflict) {
		t.Errorf("update at a stale version: error = %v, want conflict", err)
	}
	got, err := l.Contractor(ctx, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || !got.Blocked || !got.DisabledByStint || got.UserID != "u-1" || len(got.Granted) != 0 {
		t.Errorf("Contractor() = %+v, want the version 2 record", got)
	}
}

func testAudit(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	at := t0
	for i := range 5 {
		who := "ana@partner.example"
		if i%2 == 1 {
			who = "bo@vendor.example"
		}
		entry := engagement.AuditEntry{At: at.Add(time.Duration(i) * time.Second), Contractor: who, Engagement: "ENG-1",
			EventID: fmt.Sprintf("ev-%d", i), Actor: "hr/test", Action: engagement.EventApplied, Detail: fmt.Sprintf("entry %d", i)}
		if err := l.Append(ctx, entry); err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
	}
	all, err := l.Audit(ctx, engagement.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := details(all); !slices.Equal(got, []string{"entry 0", "entry 1", "entry 2", "entry 3", "entry 4"}) {
		t.Errorf("Audit() = %v, want all five, oldest first", got)
	}
	for _, a := range all {
		if a.ID == "" {
			t.Errorf("entry %q has no ID", a.Detail)
		}
	}
	ana, _ := l.Audit(ctx, engagement.AuditQuery{Contractor: "ana@partner.example"})
	if got := details(ana); !slices.Equal(got, []string{"entry 0", "entry 2", "entry 4"}) {
		t.Errorf("Audit(ana) = %v, want entries 0, 2, 4", got)
	}
	last, _ := l.Audit(ctx, engagement.AuditQuery{Limit: 2})
	if got := details(last); !slices.Equal(got, []string{"entry 3", "entry 4"}) {
		t.Errorf("Audit(limit 2) = %v, want the newest two, oldest first", got)
	}
	if err := l.Append(ctx, engagement.AuditEntry{ID: all[0].ID, Contractor: "ana@partner.example", Action: "forged"}); !fault.Is(err, fault.Conflict) {
		t.Errorf("appending an existing ID: error = %v, want conflict", err)
	}
	again, _ := l.Audit(ctx, engagement.AuditQuery{})
	if !slices.Equal(details(again), details(all)) || !again[0].At.Equal(t0) {
		t.Errorf("the trail changed after a refused append: %v", details(again))
	}
}

// Put stores records as settles would: a contractor's records together with
// the contractor, in one Commit. Records not yet stored have Version 0;
// stored ones their version.
func Put(tb testing.TB, l engagement.Ledger, recs ...engagement.Engagement) {
	tb.Helper()
	ctx := context.Background()
	var keys []string
	byKey := map[string][]engagement.Engagement{}
	for _, e := range recs {
		if _, ok := byKey[e.Contractor]; !ok {
			keys = append(keys, e.Contractor)
		}
		byKey[e.Contractor] = append(byKey[e.Contractor], e)
	}
	for _, key := range keys {
		c, err := l.Contractor(ctx, key)
		if fault.Is(err, fault.NotFound) {
			c, err = engagement.Contractor{Key: key}, nil
		}
		if err == nil {
			_, _, err = l.Commit(ctx, engagement.Change{Contractor: c, Engagements: byKey[key]})
		}
		if err != nil {
			tb.Fatalf("store the engagements of %s: %v", key, err)
		}
	}
}

func put(t *testing.T, l engagement.Ledger, recs ...engagement.Engagement) {
	t.Helper()
	Put(t, l, recs...)
}

func idsOf(recs []engagement.Engagement) []string {
	var ids []string
	for _, e := range recs {
		ids = append(ids, e.ID)
	}
	return ids
}

func details(entries []engagement.AuditEntry) []string {
	var out []string
	for _, a := range entries {
		out = append(out, a.Detail)
	}
	return out
}

// equal compares records with instants compared by Equal.
func equal(a, b engagement.Engagement) bool {
	return fmt.Sprintf("%+v", norm(a)) == fmt.Sprintf("%+v", norm(b))
}

func norm(e engagement.Engagement) engagement.Engagement {
	e.StartsAt, e.EndsAt, e.UpdatedAt = e.StartsAt.UTC(), e.EndsAt.UTC(), e.UpdatedAt.UTC()
	for _, s := range []*engagement.Stamp{&e.ProfileSetBy, &e.AccessSetBy, &e.StartSetBy, &e.EndSetBy, &e.StartedBy, &e.Last} {
		s.Time = s.Time.UTC()
	}
	return e
}

func testContractors(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	const n = 1107
	for i := range n {
		if _, err := l.PutContractor(ctx, engagement.Contractor{Key: fmt.Sprintf("c%04d@x.example", i), UserID: fmt.Sprint("u-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Engagements and marks are not contractors.
	put(t, l, Record("ENG-1", "c0001@x.example", engagement.Active, day(-1), day(1)))
	if err := l.SetMark(ctx, "ghost/g/u", "x"); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for c, err := range l.Contractors(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.Key] || c.UserID == "" {
			t.Fatalf("Contractors yielded %+v (seen before: %v)", c, seen[c.Key])
		}
		seen[c.Key] = true
	}
	if len(seen) != n {
		t.Errorf("Contractors yielded %d, want %d", len(seen), n)
	}
}

func testMarks(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	for k, v := range map[string]string{"ghost/g1/u1": "2026-11-21T09:00:00Z", "ghost/g1/u2": "2026-11-21T10:00:00Z", "reconcile/checkpoint": "{}"} {
		if err := l.SetMark(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SetMark(ctx, "ghost/g1/u1", "2026-11-22T09:00:00Z"); err != nil {
		t.Fatal(err)
	}
	got, err := l.Marks(ctx, "ghost/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["ghost/g1/u1"] != "2026-11-22T09:00:00Z" || got["ghost/g1/u2"] != "2026-11-21T10:00:00Z" {
		t.Errorf("Marks(ghost/) = %v, want the two ghosts, u1 overwritten", got)
	}
	if err := l.DeleteMark(ctx, "ghost/g1/u1"); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteMark(ctx, "never-set"); err != nil {
		t.Errorf("DeleteMark(absent) = %v, want nil", err)
	}
	got, _ = l.Marks(ctx, "ghost/")
	if len(got) != 1 {
		t.Errorf("after delete: %v, want u2 only", got)
	}
	all, _ := l.Marks(ctx, "")
	if len(all) != 2 {
		t.Errorf("Marks(\"\") = %v, want both remaining", all)
	}
}

// A prefix is matched at the start of the key, byte for byte, whatever
// characters it holds.
func testMarksPrefix(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	for _, k := range []string{"ghost/groupe-é/u1", "ghost/groupe-é/u2", "ghost/groupe-e/u1", "x/ghost/groupe-é/u1"} {
		if err := l.SetMark(ctx, k, "v"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Marks(ctx, "ghost/groupe-é/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["ghost/groupe-é/u1"] != "v" || got["ghost/groupe-é/u2"] != "v" {
		t.Errorf("Marks(ghost/groupe-é/) = %v, want its two keys only", got)
	}
}

func testCommit(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	key := "ana@partner.example"
	e1 := Record("ENG-1", key, engagement.Active, day(-1), day(30))
	put(t, l, e1)
	stored, _ := l.Engagement(ctx, "ENG-1")
	stored.State = engagement.Ended
	fresh := Record("ENG-2", key, engagement.Pending, day(5), day(40))
	c, _ := l.Contractor(ctx, key)
	c.UserID, c.Granted = "u-1", []string{"contractor-access"}
	ch := engagement.Change{
		Contractor:  c,
		Engagements: []engagement.Engagement{stored, fresh},
		Seen:        []engagement.SeenEvent{{Key: "hr/test ev-1", Digest: "d1", Engagement: "ENG-1", Outcome: engagement.Applied}},
		Audit: []engagement.AuditEntry{
			{Contractor: key, EventID: "ev-1", Action: engagement.EventApplied, Detail: "first"},
			{Contractor: key, EventID: "ev-1", Action: engagement.GroupAdded, Detail: "second"},
		},
	}
	c, engs, err := l.Commit(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != 2 || len(engs) != 2 || engs[0].Version != 2 || engs[1].Version != 1 {
		t.Errorf("Commit returned contractor v%d, engagements %+v; want v2, and ENG-1 v2, ENG-2 v1", c.Version, engs)
	}
	got, err := l.ContractorEngagements(ctx, key)
	if err != nil || len(got) != 2 || got[0].State != engagement.Ended || got[1].Version != 1 {
		t.Errorf("engagements after the commit = %+v, %v", got, err)
	}
	if c, err := l.Contractor(ctx, key); err != nil || c.UserID != "u-1" || c.Version != 2 {
		t.Errorf("contractor after the commit = %+v, %v", c, err)
	}
	seen, err := l.Seen(ctx, "hr/test ev-1")
	if err != nil || seen.Digest != "d1" || seen.Engagement != "ENG-1" || seen.At.IsZero() {
		t.Errorf("Seen = %+v, %v; want the handled event with its digest", seen, err)
	}
	if _, err := l.Seen(ctx, "hr/test ev-2"); !fault.Is(err, fault.NotFound) {
		t.Errorf("Seen(never handled) error = %v, want not found", err)
	}
	trail, _ := l.Audit(ctx, engagement.AuditQuery{Contractor: key})
	if got := details(trail); !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("trail = %v, want both entries in order", got)
	}
	due, _ := l.Due(ctx, day(6), 0)
	if !slices.Equal(idsOf(due), []string{"ENG-2"}) {
		t.Errorf("Due after the commit = %v, want the committed ENG-2", idsOf(due))
	}
}

func testCommitAllOrNothing(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	key := "ana@partner.example"
	put(t, l, Record("ENG-1", key, engagement.Active, day(-1), day(30)))
	c, _ := l.Contractor(ctx, key)
	for name, ch := range map[string]engagement.Change{
		"a stale contractor": {
			Contractor:  engagement.Contractor{Key: key, UserID: "u-1", Version: c.Version - 1},
			Engagements: []engagement.Engagement{Record("ENG-3", key, engagement.Pending, day(1), day(9))},
		},
	} {
		ch.Seen = []engagement.SeenEvent{{Key: "hr/test lost", Engagement: "ENG-1"}}
		ch.Audit = []engagement.AuditEntry{{Contractor: key, Action: engagement.EventApplied, Detail: "lost"}}
		if _, _, err := l.Commit(ctx, ch); !fault.Is(err, fault.Conflict) {
			t.Fatalf("%s: Commit error = %v, want conflict", name, err)
		}
		if got, err := l.Contractor(ctx, key); err != nil || got.Version != c.Version || got.UserID != "" {
			t.Errorf("%s: the contractor changed: %+v, %v", name, got, err)
		}
		if _, err := l.Engagement(ctx, "ENG-3"); !fault.Is(err, fault.NotFound) {
			t.Errorf("%s: the new engagement was stored (%v)", name, err)
		}
		if _, err := l.Seen(ctx, "hr/test lost"); !fault.Is(err, fault.NotFound) {
			t.Errorf("%s: the event was noted as handled (%v)", name, err)
		}
		if trail, _ := l.Audit(ctx, engagement.AuditQuery{}); len(trail) != 0 {
			t.Errorf("%s: the trail has %v", name, details(trail))
		}
		if got, _ := l.ContractorEngagements(ctx, key); !slices.Equal(idsOf(got), []string{"ENG-1"}) {
			t.Errorf("%s: engagements = %v, want ENG-1 alone", name, idsOf(got))
		}
	}
}

func testLeases(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	now := t0
	take := func(holder string, at time.Time, want bool) {
		t.Helper()
		got, err := l.Lease(ctx, "tick", holder, at, at.Add(time.Minute))
		if err != nil || got != want {
			t.Errorf("Lease(tick, %s at %s) = %v, %v; want %v", holder, at.Format("15:04:05"), got, err, want)
		}
	}
	take("a", now, true)
	take("b", now.Add(30*time.Second), false) // a holds it
	take("a", now.Add(30*time.Second), true)  // a renews it, till +90 s
	take("b", now.Add(80*time.Second), false) // still a's
	take("b", now.Add(100*time.Second), true) // a's expired
	if ok, _ := l.Lease(ctx, "reconcile", "a", now, now.Add(time.Minute)); !ok {
		t.Error("leases by other names are separate")
	}
	if err := l.Release(ctx, "tick", "a"); err != nil { // not a's: nothing happens
		t.Fatal(err)
	}
	take("c", now.Add(110*time.Second), false)
	if err := l.Release(ctx, "tick", "b"); err != nil {
		t.Fatal(err)
	}
	take("c", now.Add(110*time.Second), true)
}

func testLeaseRace(t *testing.T, l engagement.Ledger) {
	ctx := context.Background()
	const holders = 8
	var wg sync.WaitGroup
	won := make([]bool, holders)
	start := make(chan struct{})
	for i := range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ok, err := l.Lease(ctx, "tick", fmt.Sprint("holder-", i), t0, t0.Add(time.Minute))
			if err != nil {
				t.Errorf("holder %d: %v", i, err)
			}
			won[i] = ok
		}()
	}
	close(start)
	wg.Wait()
	if n := len(slices.DeleteFunc(slices.Clone(won), func(b bool) bool { return !b })); n != 1 {
		t.Errorf("%d holders took the lease, want exactly one", n)
	}
}
