package sandbox

import (
	"errors"
	"testing"
)

func TestParseFilter(t *testing.T) {
	ana := &User{ID: "a1", Mail: "Ana@Contoso.com", UserPrincipalName: "ana@contoso.onmicrosoft.com", UserType: "Member",
		DisplayName: "Ana", AccountEnabled: true, OtherMails: []string{"ana@home.example", "o'hara@x.example"}}
	bo := &User{ID: "b2", Mail: "", UserPrincipalName: "bo_x.example#EXT#@contoso.onmicrosoft.com", UserType: "Guest",
		ExternalUserState: "Accepted", DisplayName: "Bo"}
	tests := []struct {
		filter   string
		ana, bo  bool
		advanced string
	}{
		{"mail eq 'ana@contoso.com'", true, false, ""},
		{"otherMails/any(x:x eq 'O''HARA@x.example')", true, false, ""},
		{"otherMails/any (m : startsWith(m,'ana@'))", true, false, ""},
		{"otherMails/any(x:endsWith(x,'.example'))", true, false, "endsWith"},
		{"not otherMails/any(x:x eq 'ana@home.example')", false, true, "not"},
		{"userType eq 'guest' and externalUserState eq 'Accepted'", false, true, ""},
		{"((userType eq 'Member')) or (accountEnabled eq false)", true, true, ""},
		{"id in ('a1','zz')", true, false, ""},
		{"startswith(userPrincipalName,'BO_')", false, true, ""},
		{"mail eq null", false, true, "null"},
		{"displayName ne 'Ana'", false, true, "ne"},
		{"accountEnabled eq true and not (mail eq 'x')", true, false, "not"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			f, err := parseFilter(tt.filter)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := f.match(ana); got != tt.ana {
				t.Errorf("match(ana) = %v, want %v", got, tt.ana)
			}
			if got := f.match(bo); got != tt.bo {
				t.Errorf("match(bo) = %v, want %v", got, tt.bo)
			}
			if f.advanced != tt.advanced {
				t.Errorf("advanced = %q, want %q", f.advanced, tt.advanced)
			}
		})
	}
}

func TestParseFilterRejects(t *testing.T) {
	tests := []struct {
		filter, code string
	}{
		{"mail eq 'a' or", "BadRequest"},
		{"(mail eq 'a'", "BadRequest"},
		{"mail eq 'a')", "BadRequest"},
		{"mail eq 'unterminated", "BadRequest"},
		{"mail gt 'a'", "Request_UnsupportedQuery"},
		{"contains(mail,'a')", "Request_UnsupportedQuery"},
		{"otherMails eq 'a'", "Request_UnsupportedQuery"},
		{"mail/any(x:x eq 'a')", "Request_UnsupportedQuery"},
		{"otherMails/any(x:x in ('a'))", "Request_UnsupportedQuery"},
		{"endsWith(displayName,'a')", "Request_UnsupportedQuery"},
		{"accountEnabled in ('true')", "Request_UnsupportedQuery"},
		{"mail eq true", "BadRequest"},
		{"jobTitle eq 'x'", "Request_UnsupportedQuery"},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			_, err := parseFilter(tt.filter)
			var fe *filterError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a filterError", err)
			}
			if fe.code != tt.code {
				t.Errorf("code = %q (%s), want %q", fe.code, fe.msg, tt.code)
			}
		})
	}
}
