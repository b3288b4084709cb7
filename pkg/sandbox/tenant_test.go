package sandbox

import (
	"errors"
	"slices"
	"testing"
)

func TestSeeding(t *testing.T) {
	ten := New(Options{Domain: "Fabrikam.onmicrosoft.com"})
	ana := ten.AddUser(User{DisplayName: "Ana Lima", Mail: "ana@fabrikam.com", AccountEnabled: true})
	ana2 := ten.AddUser(User{DisplayName: "Ana Two", Mail: "ana@other.example"})
	guest := ten.AddUser(User{Mail: "Bo@Partner.example", OtherMails: []string{"bo@home.example"}, UserType: "Guest"})
	named := ten.AddUser(User{DisplayName: "Carl  Dahl"})

	upns := map[string]string{
		"member from mail":        ana.UserPrincipalName,
		"taken alias":             ana2.UserPrincipalName,
		"guest":                   guest.UserPrincipalName,
		"member from displayName": named.UserPrincipalName,
	}
	want := map[string]string{
		"member from mail":        "ana@fabrikam.onmicrosoft.com",
		"taken alias":             "ana2@fabrikam.onmicrosoft.com",
		"guest":                   "bo_partner.example#EXT#@fabrikam.onmicrosoft.com",
		"member from displayName": "carl.dahl@fabrikam.onmicrosoft.com",
	}
	for k, got := range upns {
		if got != want[k] {
			t.Errorf("%s: UPN = %q, want %q", k, got, want[k])
		}
	}
	if ana.ID == "" || ana.UserType != "Member" || ana.CreatedDateTime.IsZero() || ana.ExternalUserState != "" {
		t.Errorf("member defaults: %+v", ana)
	}
	if guest.ExternalUserState != "Accepted" {
		t.Errorf("seeded guest state = %q, want Accepted", guest.ExternalUserState)
	}
	if u, ok := ten.UserByMail("BO@home.example"); !ok || u.ID != guest.ID {
		t.Errorf("UserByMail(otherMails) = %+v, %v", u, ok)
	}
	if u, ok := ten.User(guest.UserPrincipalName); !ok || u.ID != guest.ID {
		t.Errorf("User(UPN) = %+v, %v", u, ok)
	}

	g := ten.AddGroup(Group{DisplayName: "g"})
	if err := ten.AddMember(g.ID, ana.ID); err != nil {
		t.Fatal(err)
	}
	if err := ten.AddMember(g.ID, ana.ID); !errors.Is(err, ErrAlreadyMember) {
		t.Errorf("second AddMember = %v, want ErrAlreadyMember", err)
	}
	if err := ten.AddMember(g.ID, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddMember(unknown user) = %v, want ErrNotFound", err)
	}
	if err := ten.AddMember("nothing", ana.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("AddMember(unknown group) = %v, want ErrNotFound", err)
	}
	if err := ten.SetAccountEnabled(ana.ID, false); err != nil {
		t.Fatal(err)
	}
	if u, _ := ten.User(ana.ID); u.AccountEnabled {
		t.Error("SetAccountEnabled(false) left the account enabled")
	}
	if err := ten.SetAccountEnabled("nobody", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetAccountEnabled(unknown) = %v", err)
	}

	// Replacing a user keeps its memberships and its place.
	ana.DisplayName = "Ana L."
	ten.AddUser(ana)
	if got := ten.Users(); len(got) != 4 || got[0].DisplayName != "Ana L." {
		t.Errorf("users after replacing = %+v", got)
	}
	if got := ten.Members(g.ID); !slices.Equal(got, []string{ana.ID}) {
		t.Errorf("members = %v", got)
	}
	// The tenant keeps its own copies.
	u, _ := ten.User(guest.ID)
	u.OtherMails[0] = "changed@x.example"
	if again, _ := ten.User(guest.ID); again.OtherMails[0] != "bo@home.example" {
		t.Error("User() shares its slices with the tenant")
	}
}

// An administrator's conversion of a guest to a member shows in Graph's
// userType; a deleted user is gone from Graph and from every group.
func TestAdministratorConvertsAndDeletes(t *testing.T) {
	f := newFixture(t, "User.Read.All", "GroupMember.ReadWrite.All")
	guest := f.ten.AddUser(User{Mail: "ana@partner.example", UserType: "Guest", AccountEnabled: true})
	g := f.ten.AddGroup(Group{DisplayName: "g", SecurityEnabled: true})
	if err := f.ten.AddMember(g.ID, guest.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.ten.SetUserType(guest.ID, "Member"); err != nil {
		t.Fatal(err)
	}
	r := f.call(t, "GET", "/v1.0/users/"+guest.ID+"?$select=id,userType", nil)
	if got := r.str("userType"); got != "Member" {
		t.Errorf("userType after conversion = %q, want Member", got)
	}
	if err := f.ten.DeleteUser(guest.ID); err != nil {
		t.Fatal(err)
	}
	wantError(t, f.call(t, "GET", "/v1.0/users/"+guest.ID, nil), 404, "Request_ResourceNotFound")
	if m := f.ten.Members(g.ID); len(m) != 0 {
		t.Errorf("members after delete = %v, want none", m)
	}
	if _, ok := f.ten.UserByMail("ana@partner.example"); ok {
		t.Error("deleted user still found by mail")
	}
	if err := f.ten.DeleteUser(guest.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
	}
}
