package engagement_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
)

func TestEffectiveAccessIsTheUnionOfActiveEngagements(t *testing.T) {
	a, _ := fold(t, d(0), started("a1", d(-10), d(-10), d(30), "contractor-access"))
	b, _ := fold(t, d(0), other("ENG-2", started("b1", d(-5), d(-5), d(60), "contractor-access", "github-org")))
	c, _ := fold(t, d(0), other("ENG-3", started("c1", d(-5), d(10), d(60), "finance-apps")))
	tests := []struct {
		name string
		now  time.Time
		want []string
	}{
		{"a and b active, c not yet", d(0), []string{"contractor-access", "github-org"}},
		{"all three active", d(20), []string{"contractor-access", "finance-apps", "github-org"}},
		{"a ended: b keeps the key they share", d(40), []string{"contractor-access", "finance-apps", "github-org"}},
		{"all ended", d(61), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := engagement.EffectiveAccess([]engagement.Engagement{a, b, c}, tt.now)
			if !slices.Equal(got, tt.want) {
				t.Errorf("EffectiveAccess = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPlanAccess(t *testing.T) {
	active, _ := fold(t, d(0), started("a1", d(-1), d(-1), d(30), "contractor-access"))
	future, _ := fold(t, d(0), other("ENG-2", started("b1", d(-1), d(5), d(30), "github-org")))
	endedRec, _ := fold(t, d(0), started("a1", d(-9), d(-9), d(30)), ended("a2", d(-1), nil))
	second, _ := fold(t, d(0), other("ENG-2", started("b1", d(-2), d(-2), d(60), "contractor-access", "github-org")))
	user := engagement.Contractor{Key: "ana@partner.example", UserID: "u-1", Guest: true}
	tests := []struct {
		name string
		c    engagement.Contractor
		engs []engagement.Engagement
		want engagement.Plan
	}{
		{
			name: "a new contractor: find or invite, then add",
			c:    engagement.Contractor{Key: "ana@partner.example"},
			engs: []engagement.Engagement{active},
			want: engagement.Plan{EnsureUser: true, Add: []string{"contractor-access"}, Access: []string{"contractor-access"}},
		},
		{
			name: "a future start: invite now, no group yet",
			c:    engagement.Contractor{Key: "ana@partner.example"},
			engs: []engagement.Engagement{future},
			want: engagement.Plan{EnsureUser: true},
		},
		{
			name: "already applied: nothing to do",
			c:    with(user, []string{"contractor-access"}, false),
			engs: []engagement.Engagement{active},
			want: engagement.Plan{Access: []string{"contractor-access"}},
		},
		{
			name: "last engagement ended: remove from the groups and block",
			c:    with(user, []string{"contractor-access"}, false),
			engs: []engagement.Engagement{endedRec},
			want: engagement.Plan{Remove: []string{"contractor-access"}, Block: true},
		},
		{
			name: "one of two overlapping ended: keep the shared group, leave only the other's",
			c:    with(user, []string{"contractor-access", "github-org"}, false),
			engs: []engagement.Engagement{endedRec, second},
			want: engagement.Plan{Access: []string{"contractor-access", "github-org"}},
		},
		{
			name: "ended with a future engagement still to come: groups go, the account is not blocked",
			c:    with(user, []string{"contractor-access"}, false),
			engs: []engagement.Engagement{endedRec, future},
			want: engagement.Plan{Remove: []string{"contractor-access"}},
		},
		{
			name: "blocked once: not again",
			c:    with(user, nil, true),
			engs: []engagement.Engagement{endedRec},
			want: engagement.Plan{},
		},
		{
			name: "a new active engagement after a block: add and unblock",
			c:    with(user, nil, true),
			engs: []engagement.Engagement{endedRec, second},
			want: engagement.Plan{Add: []string{"contractor-access", "github-org"}, Unblock: true, Access: []string{"contractor-access", "github-org"}},
		},
		{
			name: "blocked and only a future engagement: stays blocked until it starts",
			c:    with(user, nil, true),
			engs: []engagement.Engagement{future},
			want: engagement.Plan{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := engagement.PlanAccess(tt.c, tt.engs, d(0))
			tt.want.Contractor = tt.c.Key
			if !equalPlans(got, tt.want) {
				t.Errorf("PlanAccess =\n  %+v\nwant\n  %+v", got, tt.want)
			}
			if got.Empty() != (!tt.want.EnsureUser && tt.want.Add == nil && tt.want.Remove == nil && !tt.want.Block && !tt.want.Unblock) {
				t.Errorf("Empty() = %v for %+v", got.Empty(), got)
			}
		})
	}
}

func with(c engagement.Contractor, granted []string, blocked bool) engagement.Contractor {
	c.Granted, c.Blocked = granted, blocked
	return c
}

func equalPlans(a, b engagement.Plan) bool {
	return a.Contractor == b.Contractor && a.EnsureUser == b.EnsureUser && a.Block == b.Block && a.Unblock == b.Unblock &&
		slices.Equal(a.Add, b.Add) && slices.Equal(a.Remove, b.Remove) && slices.Equal(a.Access, b.Access)
}
