package importer_test

import (
	"context"
	"iter"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/importer"
)

// fakeDirectory holds accounts and group members; findUser answers like
// the Graph adapter: NotFound for nobody, Conflict for several.
type fakeDirectory struct {
	users   []engagement.User
	members map[string][]string // group id -> user ids
	// fail, when set, is the error for looking up this address.
	fail map[string]error
	// lookups counts FindUser calls (made concurrently).
	lookups atomic.Int64
}

func (f *fakeDirectory) FindUser(_ context.Context, email string) (engagement.User, error) {
	f.lookups.Add(1)
	if err := f.fail[email]; err != nil {
		return engagement.User{}, err
	}
	var found []engagement.User
	for _, u := range f.users {
		if strings.EqualFold(u.Mail, email) {
			found = append(found, u)
		}
	}
	switch len(found) {
	case 0:
		return engagement.User{}, fault.Errorf(fault.NotFound, "fake directory: no user %s", email)
	case 1:
		return found[0], nil
	}
	return engagement.User{}, fault.Errorf(fault.Conflict, "fake directory: %d users have %s", len(found), email)
}

func (f *fakeDirectory) Members(_ context.Context, groupID string) iter.Seq2[engagement.User, error] {
	return func(yield func(engagement.User, error) bool) {
		for _, id := range f.members[groupID] {
			for _, u := range f.users {
				if u.ID == id && !yield(u, nil) {
					return
				}
			}
		}
	}
}

var _ importer.Directory = (*fakeDirectory)(nil)

// fakeRecords is a ledger's contractors and engagements.
type fakeRecords struct {
	contractors []engagement.Contractor
	engagements []engagement.Engagement
}

func (f fakeRecords) Contractors(context.Context) iter.Seq2[engagement.Contractor, error] {
	return func(yield func(engagement.Contractor, error) bool) {
		for _, c := range f.contractors {
			if !yield(c, nil) {
				return
			}
		}
	}
}

func (f fakeRecords) Active(context.Context) iter.Seq2[engagement.Engagement, error] {
	return func(yield func(engagement.Engagement, error) bool) {
		for _, e := range f.engagements {
			if !yield(e, nil) {
				return
			}
		}
	}
}

var _ importer.Records = fakeRecords{}

var groups = map[string]string{"contractor-access": "g-ca", "github-org": "g-gh"}

func user(id, mail string) engagement.User {
	return engagement.User{ID: id, Mail: mail, Guest: true, Enabled: true}
}

// A dry run says who would be invited (with their groups, and when), who
// added to which group they lack, which addresses several accounts share,
// and which members of the allow-listed groups nothing justifies — judged
// as the reconcile judges them.
func TestPreview(t *testing.T) {
	fay := user("u-fay", "fay@x.example")
	fay.Enabled = false
	dir := &fakeDirectory{
		users: []engagement.User{
			user("u-bo", "bo@vendor.example"), user("u-cy", "cy@studio.example"), user("u-dee", "dee@x.example"),
			user("u-eve", "eve@x.example"), fay, user("u-gus", "gus@x.example"), user("u-mal", "mallory@old.example"),
			user("u-zed1", "zed@x.example"), user("u-zed2", "zed@x.example"), user("u-ivy", "ivy@x.example"),
		},
		members: map[string][]string{
			"g-ca": {"u-bo", "u-cy", "u-dee", "u-eve", "u-fay", "u-gus", "u-mal", "u-ivy"},
			"g-gh": {"u-cy", "u-ivy"},
		},
	}
	ledger := fakeRecords{
		contractors: []engagement.Contractor{
			{Key: "eve@x.example", UserID: "u-eve", Granted: []string{"contractor-access"}},
			{Key: "fay@x.example", UserID: "u-fay", Blocked: true, DisabledByStint: true},
			{Key: "gus@x.example", UserID: "u-gus", Granted: []string{"contractor-access"}},
			{Key: "ivy@x.example", UserID: "u-ivy", Granted: []string{"contractor-access", "github-org"}},
		},
		engagements: []engagement.Engagement{
			{ID: "ENG-E", Contractor: "eve@x.example", Access: []string{"contractor-access"}, Started: true, State: engagement.Active,
				StartsAt: now.Add(-24 * time.Hour), EndsAt: now.Add(24 * time.Hour)},
			// Gus's end came a minute ago; the tick has not applied it.
			{ID: "ENG-G", Contractor: "gus@x.example", Access: []string{"contractor-access"}, Started: true, State: engagement.Active,
				StartsAt: now.Add(-24 * time.Hour), EndsAt: now.Add(-time.Minute)},
			// Ivy's engagement, imported before from a list that gave her
			// both groups; the list now gives her one.
			{ID: importer.EngagementID("ivy@x.example"), Contractor: "ivy@x.example", Access: []string{"contractor-access", "github-org"}, Started: true,
				State: engagement.Active, StartsAt: now.Add(-24 * time.Hour), EndsAt: now.Add(24 * time.Hour)},
		},
	}
	items, problems := build(t, "email,access,start,end\n"+
		"ana@partner.example,,,2027-02-28\n"+
		"bo@vendor.example,contractor-access;github-org,,2027-02-28\n"+
		"cy@studio.example,contractor-access,,2027-02-28\n"+
		"dee@x.example,contractor-access,2026-12-01,2027-02-28\n"+
		"hal@x.example,github-org,2026-12-01,2027-02-28\n"+
		"zed@x.example,,,2027-02-28\n"+
		"ivy@x.example,contractor-access,,2027-02-28\n", options())
	if len(problems) > 0 {
		t.Fatal(lines(problems))
	}
	steps := 0
	p := &importer.Planner{Directory: dir, Ledger: ledger, Groups: groups, DefaultAccess: []string{"contractor-access"}, Now: now, Lookups: 3, Step: func() { steps++ }}
	got, err := p.Preview(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	dec1 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	want := importer.Preview{
		Invitations: []importer.Change{
			{Row: 2, Email: "ana@partner.example", Access: []string{"contractor-access"}},
			{Row: 6, Email: "hal@x.example", Access: []string{"github-org"}, At: dec1},
		},
		Additions: []importer.Change{{Row: 3, Email: "bo@vendor.example", UserID: "u-bo", Access: []string{"github-org"}}},
		Unresolved: []importer.Change{{Row: 7, Email: "zed@x.example", Access: []string{"contractor-access"},
			Reason: "fake directory: 2 users have zed@x.example"}},
		Removals: []importer.Account{{Row: 8, UserID: "u-ivy", Name: "ivy@x.example", Access: "github-org", Finding: engagement.Lagging,
			Reason: "the row changes the engagement that granted it, and no engagement grants it any more: the worker removes it as it applies the row"}},
		Unjustified: []importer.Account{
			// Dee's row starts next month: today nothing justifies her.
			{UserID: "u-dee", Name: "dee@x.example", Access: "contractor-access", Finding: engagement.Ghost},
			{UserID: "u-fay", Name: "fay@x.example", Access: "contractor-access", Finding: engagement.Readmitted},
			{UserID: "u-gus", Name: "gus@x.example", Access: "contractor-access", Finding: engagement.Lagging},
			{UserID: "u-mal", Name: "mallory@old.example", Access: "contractor-access", Finding: engagement.Ghost},
			// Cy's row grants contractor-access alone.
			{UserID: "u-cy", Name: "cy@studio.example", Access: "github-org", Finding: engagement.Ghost},
		},
	}
	for i := range got.Unjustified {
		got.Unjustified[i].Reason = "" // said in words; the finding is what counts here
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("preview =\n%s\nwant\n%s", mustJSON(got), mustJSON(want))
	}
	if steps != len(items) || dir.lookups.Load() != int64(len(items)) {
		t.Errorf("%d steps, %d lookups; want one each per row (%d)", steps, dir.lookups.Load(), len(items))
	}
	if c := got.Counts(); c != "2 invitations, 1 addition to groups, 1 removal from groups, 5 memberships nothing justifies, 1 address several accounts have" {
		t.Errorf("Counts = %q", c)
	}
}

// A lookup Graph refuses (a permission missing, an outage) stops the dry
// run: its answer would be wrong.
func TestPreviewStopsWhenALookupFails(t *testing.T) {
	dir := &fakeDirectory{fail: map[string]error{"bo@vendor.example": fault.Errorf(fault.Unauthorized, "find user: User.Read.All is missing")}}
	items, _ := build(t, threeRows, options())
	p := &importer.Planner{Directory: dir, Ledger: fakeRecords{}, Groups: groups, Now: now}
	_, err := p.Preview(context.Background(), items)
	if err == nil || !strings.Contains(err.Error(), "import: row 3: look up bo@vendor.example: find user: User.Read.All is missing") {
		t.Errorf("Preview = %v, want it stopped at row 3's lookup", err)
	}
}
