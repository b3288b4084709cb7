package engagement_test

import (
	"context"
	"iter"

	"github.com/stintdev/stint/pkg/engagement"
)

// fakeDirectory is a hand-written fake: each method calls its function
// field, and panics when a test did not expect the call.
type fakeDirectory struct {
	GroupFunc func(ctx context.Context, id string) (engagement.Group, error)
}

var _ engagement.Directory = (*fakeDirectory)(nil)

func (f *fakeDirectory) Group(ctx context.Context, id string) (engagement.Group, error) {
	return f.GroupFunc(ctx, id)
}

func (f *fakeDirectory) FindUser(context.Context, string) (engagement.User, error) {
	panic("unexpected FindUser")
}
func (f *fakeDirectory) Invite(context.Context, engagement.Invitation) (engagement.User, error) {
	panic("unexpected Invite")
}
func (f *fakeDirectory) AddMember(context.Context, string, string) error {
	panic("unexpected AddMember")
}
func (f *fakeDirectory) RemoveMember(context.Context, string, string) error {
	panic("unexpected RemoveMember")
}
func (f *fakeDirectory) RemoveMembers(context.Context, string, []string) error {
	panic("unexpected RemoveMembers")
}
func (f *fakeDirectory) SetAccountEnabled(context.Context, string, bool) error {
	panic("unexpected SetAccountEnabled")
}
func (f *fakeDirectory) RemoveAndRead(context.Context, string, []string) (engagement.User, error) {
	panic("unexpected RemoveAndRead")
}
func (f *fakeDirectory) Account(context.Context, string, []string) (engagement.User, []string, error) {
	panic("unexpected Account")
}
func (f *fakeDirectory) RevokeSessions(context.Context, engagement.User) error {
	panic("unexpected RevokeSessions")
}
func (f *fakeDirectory) Members(context.Context, string) iter.Seq2[engagement.User, error] {
	panic("unexpected Members")
}
