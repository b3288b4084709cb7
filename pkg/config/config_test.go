package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

const gid = "6f1c2f3e-0000-4000-8000-000000000001"

func TestGroups(t *testing.T) {
	tests := []struct {
		value string
		want  map[string]string
		err   string
	}{
		{value: "contractor-access=" + gid, want: map[string]string{"contractor-access": gid}},
		{value: " contractor-access = " + strings.ToUpper(gid) + " , github-org=6f1c2f3e-0000-4000-8000-000000000002",
			want: map[string]string{"contractor-access": gid, "github-org": "6f1c2f3e-0000-4000-8000-000000000002"}},
		{value: "", err: "STINT_GROUPS is not set"},
		{value: "contractor-access", err: `entry 1 ("contractor-access") is not key=groupObjectId`},
		{value: "contractor-access=Contractors", err: `entry 1: "Contractors" is not a group object id`},
		{value: "bad key=" + gid, err: `key "bad key" must be`},
		{value: "a=" + gid + ",a=6f1c2f3e-0000-4000-8000-000000000002", err: `key "a" is listed twice`},
		{value: "a=" + gid + ",b=" + gid, err: `listed under both "a" and "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Setenv("STINT_GROUPS", tt.value)
			got, err := config.Groups()
			if tt.err != "" {
				if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Groups() error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || len(got) != len(tt.want) {
				t.Fatalf("Groups() = %v, %v; want %v", got, err, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("Groups()[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestDefaultAccess(t *testing.T) {
	groups := map[string]string{"contractor-access": gid, "github-org": gid}
	t.Setenv("STINT_DEFAULT_ACCESS", "")
	if got, err := config.DefaultAccess(groups); err != nil || len(got) != 1 || got[0] != "contractor-access" {
		t.Errorf("default = %v, %v; want [contractor-access]", got, err)
	}
	t.Setenv("STINT_DEFAULT_ACCESS", "github-org, contractor-access")
	if got, err := config.DefaultAccess(groups); err != nil || len(got) != 2 {
		t.Errorf("two keys = %v, %v", got, err)
	}
	t.Setenv("STINT_DEFAULT_ACCESS", "vpn")
	if _, err := config.DefaultAccess(groups); err == nil || !strings.Contains(err.Error(), `"vpn" is not a key of STINT_GROUPS (contractor-access, github-org)`) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestInvitation(t *testing.T) {
	t.Setenv("STINT_SEND_INVITATION", "")
	t.Setenv("STINT_INVITE_REDIRECT_URL", "")
	if send, url, err := config.Invitation(); err != nil || send || url != config.DefaultRedirectURL {
		t.Errorf("defaults = %v, %q, %v", send, url, err)
	}
	t.Setenv("STINT_SEND_INVITATION", "yes please")
	if _, _, err := config.Invitation(); err == nil || !strings.Contains(err.Error(), "want true or false") {
		t.Errorf("bad bool: %v", err)
	}
	t.Setenv("STINT_SEND_INVITATION", "true")
	t.Setenv("STINT_INVITE_REDIRECT_URL", "http://apps.example")
	if _, _, err := config.Invitation(); err == nil || !strings.Contains(err.Error(), "want an https URL") {
		t.Errorf("http redirect: %v", err)
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		value string
		want  time.Duration
		err   bool
	}{
		{"", 24 * time.Hour, false},
		{"90m", 90 * time.Minute, false},
		{"30d", 30 * 24 * time.Hour, false},
		{"2s", 2 * time.Second, false},
		{"soon", 0, true},
		{"-1h", 0, true},
	}
	for _, tt := range tests {
		t.Setenv("STINT_GHOST_GRACE", tt.value)
		got, err := config.Duration("STINT_GHOST_GRACE", 24*time.Hour)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Duration(%q) = %v, %v; want %v (error %v)", tt.value, got, err, tt.want, tt.err)
		}
		if err != nil && !strings.Contains(err.Error(), "STINT_GHOST_GRACE") {
			t.Errorf("error %q does not name the variable", err)
		}
	}
}

func TestGhostAction(t *testing.T) {
	for value, want := range map[string]bool{"": false, "remove": false, "report": true} {
		t.Setenv("STINT_GHOST_ACTION", value)
		if got, err := config.GhostAction(); err != nil || got != want {
			t.Errorf("GhostAction(%q) = %v, %v", value, got, err)
		}
	}
	t.Setenv("STINT_GHOST_ACTION", "delete")
	if _, err := config.GhostAction(); err == nil || !strings.Contains(err.Error(), "want remove or report") {
		t.Errorf("GhostAction(delete) = %v", err)
	}
}
