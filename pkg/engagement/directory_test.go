package engagement_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

func TestCheckGroups(t *testing.T) {
	groups := map[string]engagement.Group{
		"g-ok":    {ID: "g-ok", DisplayName: "Contractors"},
		"g-roles": {ID: "g-roles", DisplayName: "Helpdesk admins", RoleAssignable: true},
	}
	dir := &fakeDirectory{GroupFunc: func(_ context.Context, id string) (engagement.Group, error) {
		if g, ok := groups[id]; ok {
			return g, nil
		}
		return engagement.Group{}, fault.Errorf(fault.NotFound, "group %s not found", id)
	}}
	tests := []struct {
		name   string
		config map[string]string
		want   string
		code   fault.Code
	}{
		{"plain groups pass", map[string]string{"contractor-access": "g-ok"}, "", ""},
		{"a role-assignable group is refused", map[string]string{"contractor-access": "g-ok", "admins": "g-roles"},
			`STINT_GROUPS: admins=g-roles ("Helpdesk admins") is role-assignable`, fault.Invalid},
		{"a missing group is named", map[string]string{"typo": "g-nope"}, "STINT_GROUPS: typo=g-nope: group g-nope not found", fault.NotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := engagement.CheckGroups(context.Background(), dir, tt.config)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckGroups = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || fault.CodeOf(err) != tt.code {
				t.Errorf("CheckGroups = %v (%s), want %q (%s)", err, fault.CodeOf(err), tt.want, tt.code)
			}
		})
	}
}

func TestBulkErrorNamesTheFirstFailure(t *testing.T) {
	err := &engagement.BulkError{Op: "entra: remove members", Failed: map[string]error{
		"u-2": fault.Errorf(fault.Invalid, "bad"), "u-1": fault.Errorf(fault.Transient, "busy"),
	}}
	if got, want := err.Error(), "entra: remove members: 2 users failed; the first, user u-1: busy"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
