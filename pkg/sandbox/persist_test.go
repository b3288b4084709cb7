package sandbox

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// With PersistTo, a change is on disk by the time its answer arrives: a
// tenant loaded from the file after the answer has it.
func TestPersistToSavesBeforeAnswering(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	g := f.ten.AddGroup(Group{DisplayName: "g", SecurityEnabled: true})
	u := f.ten.AddUser(User{DisplayName: "u", Mail: "u@x.example", AccountEnabled: true})
	path := filepath.Join(t.TempDir(), "tenant.json")
	f.ten.PersistTo(path)
	r := f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(u.ID))
	wantStatus(t, r, http.StatusNoContent)
	if r.header.Get("request-id") == "" {
		t.Error("the held answer lost its headers")
	}
	file, err := os.Open(path)
	if err != nil {
		t.Fatalf("nothing saved: %v", err)
	}
	defer file.Close()
	again := New(Options{})
	if err := again.Load(file); err != nil {
		t.Fatal(err)
	}
	if m := again.Members(g.ID); len(m) != 1 || m[0] != u.ID {
		t.Errorf("loaded members = %v, want the user added before the answer", m)
	}
	// A read does not save: remove the file and read.
	os.Remove(path)
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/groups/"+g.ID, nil), http.StatusOK)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("a GET saved the tenant")
	}
}

// Concurrent changes, each answered, are all in the file afterwards: saves
// never put an older snapshot over a newer one.
func TestPersistToKeepsEveryAnsweredChangeUnderConcurrency(t *testing.T) {
	f := newFixture(t, "GroupMember.ReadWrite.All")
	g := f.ten.AddGroup(Group{DisplayName: "g", SecurityEnabled: true})
	for i := range 1000 { // a tenant big enough that a save takes a while
		f.ten.AddUser(User{DisplayName: "filler", Mail: fmt.Sprintf("filler%d@x.example", i)})
	}
	var users []User
	for i := range 40 { // saves are serialised: under -race each takes ~0.1 s
		users = append(users, f.ten.AddUser(User{DisplayName: "u", Mail: fmt.Sprintf("u%d@x.example", i), AccountEnabled: true}))
	}
	path := filepath.Join(t.TempDir(), "tenant.json")
	f.ten.PersistTo(path)
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(u.ID)); r.status != http.StatusNoContent {
				t.Errorf("add %s: %d", u.ID, r.status)
			}
		}()
	}
	wg.Wait()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	again := New(Options{})
	if err := again.Load(file); err != nil {
		t.Fatal(err)
	}
	if got := len(again.Members(g.ID)); got != len(users) {
		t.Errorf("the file holds %d members, want all %d answered", got, len(users))
	}
}

// Changes made directly, as an administrator would, are saved by Persist.
func TestPersistSavesDirectChanges(t *testing.T) {
	ten := New(Options{})
	path := filepath.Join(t.TempDir(), "tenant.json")
	ten.PersistTo(path)
	u := ten.AddUser(User{Mail: "ana@x.example", AccountEnabled: true})
	if err := ten.Persist(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	again := New(Options{})
	if err := again.Load(f); err != nil {
		t.Fatal(err)
	}
	if _, ok := again.User(u.ID); !ok {
		t.Error("the user added directly is not in the saved file")
	}
}
