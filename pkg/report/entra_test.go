package report_test

import (
	"context"
	"errors"
	"iter"
	"slices"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/report"
)

// fakeReader serves members by group id and accounts by user id.
type fakeReader struct {
	members  map[string][]engagement.User
	accounts map[string]engagement.User
	read     []string
}

var _ report.Reader = (*fakeReader)(nil)

func (f *fakeReader) Members(_ context.Context, gid string) iter.Seq2[engagement.User, error] {
	return func(yield func(engagement.User, error) bool) {
		if gid == "broken" {
			yield(engagement.User{}, errors.New("throttled"))
			return
		}
		for _, u := range f.members[gid] {
			if !yield(u, nil) {
				return
			}
		}
	}
}

func (f *fakeReader) Account(_ context.Context, id string, _ []string) (engagement.User, []string, error) {
	f.read = append(f.read, id)
	u, ok := f.accounts[id]
	if !ok {
		return u, nil, fault.Errorf(fault.NotFound, "user %s", id)
	}
	return u, nil, nil
}

func TestEntraAccounts(t *testing.T) {
	ana := engagement.User{ID: "u-ana", Mail: "ana@x.example", Guest: true, Enabled: true, ExternalState: "Accepted", CreatedAt: now}
	bo := engagement.User{ID: "u-bo", Guest: true, Enabled: false}
	f := &fakeReader{members: map[string][]engagement.User{"g-a": {ana}, "g-b": {ana}}, accounts: map[string]engagement.User{"u-bo": bo}}
	got, err := report.Entra{Reader: f, Groups: map[string]string{"a": "g-a", "b": "g-b"}}.Accounts(context.Background(), []string{"u-ana", "u-bo", "u-gone"})
	if err != nil {
		t.Fatal(err)
	}
	if a := got["u-ana"]; !slices.Equal(a.Groups, []string{"a", "b"}) || a.ExternalState != "Accepted" || !a.Created.Equal(now) || a.SignIns != nil || a.Sponsors != nil {
		t.Errorf("u-ana = %+v, want in a and b, accepted, created now, sign-ins and sponsors unknown", a)
	}
	if b := got["u-bo"]; b.Enabled || len(b.Groups) != 0 || b.Gone {
		t.Errorf("u-bo = %+v, want read on its own: disabled, in no group", b)
	}
	if g := got["u-gone"]; !g.Gone {
		t.Errorf("u-gone = %+v, want Gone (Entra: not found)", g)
	}
	if !slices.Equal(f.read, []string{"u-bo", "u-gone"}) {
		t.Errorf("accounts read one by one = %v, want only those in no group", f.read)
	}
	if _, err := (report.Entra{Reader: f, Groups: map[string]string{"x": "broken"}}).Accounts(context.Background(), nil); err == nil {
		t.Errorf("a failed read of the members is no error")
	}
}
