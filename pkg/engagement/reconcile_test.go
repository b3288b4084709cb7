package engagement_test

import (
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
)

func TestClassifyMember(t *testing.T) {
	granted := engagement.Contractor{Key: "ana@x.example", UserID: "u", Granted: []string{"vpn"}}
	blocked := engagement.Contractor{Key: "bo@x.example", UserID: "u", Blocked: true, DisabledByStint: true}
	tests := []struct {
		name string
		m    engagement.Member
		want engagement.Finding
	}{
		{"an account no record names", engagement.Member{Key: "vpn", Enabled: true}, engagement.Ghost},
		{"an active engagement wants the group", engagement.Member{Known: true, Contractor: granted, Want: []string{"vpn"}, Key: "vpn", Enabled: true}, engagement.Justified},
		{"granted, no longer wanted: the tick is behind", engagement.Member{Known: true, Contractor: granted, Key: "vpn", Enabled: true}, engagement.Lagging},
		{"disabled by stint, yet a member again", engagement.Member{Known: true, Contractor: blocked, Key: "vpn"}, engagement.Readmitted},
		{"disabled by stint, re-enabled, a member again", engagement.Member{Known: true, Contractor: blocked, Key: "vpn", Enabled: true}, engagement.Ghost},
		{"a contractor, never granted it", engagement.Member{Known: true, Contractor: granted, Want: []string{"git"}, Key: "git2", Enabled: true}, engagement.Ghost},
		{"wanted wins over disabled by stint", engagement.Member{Known: true, Contractor: blocked, Want: []string{"vpn"}, Key: "vpn"}, engagement.Justified},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := engagement.ClassifyMember(tt.m); got != tt.want {
				t.Errorf("ClassifyMember = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClassifyAbsent(t *testing.T) {
	c := engagement.Contractor{Key: "ana@x.example", UserID: "u", Granted: []string{"vpn"}}
	tests := []struct {
		name string
		want []string
		key  string
		out  engagement.Finding
	}{
		{"not wanted", nil, "vpn", engagement.Absent},
		{"wanted and granted: removed by hand", []string{"vpn"}, "vpn", engagement.Missing},
		{"wanted, not granted yet: the tick is behind", []string{"git"}, "git", engagement.Due},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := engagement.ClassifyAbsent(c, tt.want, tt.key); got != tt.out {
				t.Errorf("ClassifyAbsent = %s, want %s", got, tt.out)
			}
		})
	}
}
