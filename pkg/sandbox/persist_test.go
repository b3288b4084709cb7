package sandbox

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// persistPerms let the fixture's app make every change Graph can make here.
var persistPerms = []string{"Directory.ReadWrite.All", "User-LifeCycleInfo.ReadWrite.All", "Policy.Read.All", "Policy.ReadWrite.ConditionalAccess"}

// persisted starts a fixture persisted to a fresh directory, with a group
// and the first save done; it returns the snapshot's path.
func persisted(tb testing.TB, perms ...string) (*fixture, Group, string) {
	tb.Helper()
	f := newFixture(tb, perms...)
	g := f.ten.AddGroup(Group{DisplayName: "g", SecurityEnabled: true})
	path := filepath.Join(tb.TempDir(), "tenant.json")
	f.ten.PersistTo(path)
	if err := f.ten.Persist(); err != nil {
		tb.Fatal(err)
	}
	return f, g, path
}

// restarted is a new tenant loaded from what PersistTo(path) kept.
func restarted(tb testing.TB, path string) *Tenant {
	tb.Helper()
	again := New(Options{})
	if err := again.LoadFile(path); err != nil {
		tb.Fatal(err)
	}
	return again
}

// saved is Save's JSON of t.
func saved(tb testing.TB, t *Tenant) string {
	tb.Helper()
	var b bytes.Buffer
	if err := t.Save(&b); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// wantSameTenant fails unless got saves exactly as want does.
func wantSameTenant(tb testing.TB, got, want *Tenant) {
	tb.Helper()
	if g, w := saved(tb, got), saved(tb, want); g != w {
		tb.Errorf("the restarted tenant differs from the one persisted:\n%s", firstDifference(g, w))
	}
}

func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d: got %s\n         want %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}

// withStore runs f on t's store, as a flush would.
func withStore(t *Tenant, f func(s *store)) {
	t.mu.Lock()
	s := t.store
	t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

// compactAt sets the journal size past which the next flush writes a
// snapshot (at least twice the snapshot's size, as always).
func compactAt(t *Tenant, size int64) {
	withStore(t, func(s *store) { s.minCompact = size })
}

// journalSize is the journal's size on disk.
func journalSize(tb testing.TB, path string) int64 {
	tb.Helper()
	fi, err := os.Stat(journalPath(path))
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// everyChange makes one change of every kind the tenant keeps, over Graph
// (each written before its answer) and directly, as an administrator
// (written by the Persist at the end). round keeps the rounds' objects
// apart.
func everyChange(tb testing.TB, f *fixture, g Group, round int) {
	tb.Helper()
	ok := func(r resp, want int) string {
		tb.Helper()
		wantStatus(tb, r, want)
		return r.str("id")
	}
	invite := func(email string, reset bool) string {
		tb.Helper()
		r := f.call(tb, http.MethodPost, "/v1.0/invitations", map[string]any{"invitedUserEmailAddress": email,
			"inviteRedirectUrl": "https://example.com", "resetRedemption": reset})
		wantStatus(tb, r, http.StatusCreated)
		return r.str("invitedUser.id")
	}
	ana := invite(fmt.Sprintf("ana%d@partner.example", round), false)
	ben := invite(fmt.Sprintf("ben%d@partner.example", round), false)
	invite(fmt.Sprintf("ana%d@partner.example", round), true)
	ok(f.call(tb, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ana)), http.StatusNoContent)
	ok(f.call(tb, http.MethodPatch, "/v1.0/groups/"+g.ID, map[string]any{"displayName": fmt.Sprintf("g%d", round),
		"members@odata.bind": []string{"https://graph.microsoft.com/v1.0/directoryObjects/" + ben}}), http.StatusNoContent)
	ok(f.call(tb, http.MethodDelete, "/v1.0/groups/"+g.ID+"/members/"+ana+"/$ref", nil), http.StatusNoContent)
	ok(f.call(tb, http.MethodPatch, "/v1.0/users/"+ana, map[string]any{"accountEnabled": false, "displayName": "Ana",
		"employeeLeaveDateTime": "2027-01-31T00:00:00Z"}), http.StatusNoContent)
	ok(f.call(tb, http.MethodPost, "/v1.0/users/"+ben+"/revokeSignInSessions", nil), http.StatusOK)
	ok(f.call(tb, http.MethodPost, "/v1.0/$batch", map[string]any{"requests": []map[string]any{{"id": "1", "method": "PATCH",
		"url": "/users/" + ben, "body": map[string]any{"accountEnabled": false}, "headers": map[string]string{"Content-Type": "application/json"}}}}), http.StatusOK)
	kept := ok(f.call(tb, http.MethodPost, policiesPath, mfaBody(g.ID)), http.StatusCreated)
	gone := ok(f.call(tb, http.MethodPost, policiesPath, mfaBody(g.ID)), http.StatusCreated)
	ok(f.call(tb, http.MethodPatch, policiesPath+"/"+kept, map[string]any{"state": "disabled"}), http.StatusNoContent)
	ok(f.call(tb, http.MethodDelete, policiesPath+"/"+gone, nil), http.StatusNoContent)
	inv := f.ten.Invitations()
	redeem(tb, f, inv[len(inv)-1].RedeemURL)

	t := f.ten
	cy := t.AddUser(User{Mail: fmt.Sprintf("cy%d@x.example", round), AccountEnabled: true})
	dee := t.AddUser(User{Mail: fmt.Sprintf("dee%d@x.example", round), AccountEnabled: true})
	h := t.AddGroup(Group{DisplayName: fmt.Sprintf("h%d", round)})
	for _, err := range []error{
		t.AddMember(h.ID, cy.ID), t.AddMember(h.ID, dee.ID), t.AddMember(g.ID, dee.ID), t.RemoveMember(h.ID, cy.ID),
		t.SetAccountEnabled(cy.ID, false), t.SetUserType(cy.ID, "Guest"), t.SetSponsors(cy.ID, dee.ID, h.ID),
		t.DeleteUser(dee.ID), t.SetPolicyState(kept, PolicyReportOnly),
	} {
		if err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := t.SignIn(cy.ID, SignIn{At: time.Date(2026, 5, 1, 0, 0, round, 0, time.UTC), Interactive: true, Success: true}); err != nil {
		tb.Fatal(err)
	}
	if _, err := t.AddPolicy(adminPolicy(h.ID)); err != nil {
		tb.Fatal(err)
	}
	t.AddApp(App{ClientID: fmt.Sprintf("app-%d", round), Secret: "s", Permissions: []string{"User.Read.All"}})
	t.SetPermissions(fmt.Sprintf("app-%d", round), "User.Read.All", "GroupMember.Read.All")
	if err := t.Persist(); err != nil {
		tb.Fatal(err)
	}
}

// redeem visits an invitation's redeem URL, as the guest would, without
// following its redirect.
func redeem(tb testing.TB, f *fixture, url string) {
	tb.Helper()
	client := *f.client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, err := client.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		tb.Fatalf("redeem: %s, want 302", res.Status)
	}
}

// A tenant restarted from its files is the tenant that wrote them: every
// kind of change, replayed from the journal, or partly folded into
// snapshots on the way.
func TestRestartEqualsTheTenantAfterManyWrites(t *testing.T) {
	for _, tt := range []struct {
		name       string
		minCompact int64
	}{
		{"replayed from the journal", 1 << 30},
		{"compacted on the way", 8 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, g, path := persisted(t, persistPerms...)
			compactAt(f.ten, tt.minCompact)
			first, _ := os.ReadFile(path)
			for round := range 12 {
				everyChange(t, f, g, round)
			}
			wantSameTenant(t, restarted(t, path), f.ten)
			if journalSize(t, path) < 1000 {
				t.Error("nothing in the journal: replaying it was not tested")
			}
			now, _ := os.ReadFile(path)
			if compacted := !bytes.Equal(first, now); compacted != (tt.minCompact < 1<<30) {
				t.Errorf("snapshot rewritten = %v, want %v", compacted, !compacted)
			}
		})
	}
}

// Without a snapshot there is nothing to load, and LoadFile says so as
// the file system does.
func TestLoadFileWithoutSnapshot(t *testing.T) {
	err := New(Options{}).LoadFile(filepath.Join(t.TempDir(), "none.json"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadFile = %v, want fs.ErrNotExist", err)
	}
}

// With PersistTo, a change is on disk by the time its answer arrives; a
// read writes nothing.
func TestPersistToSavesBeforeAnswering(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All")
	u := f.ten.AddUser(User{DisplayName: "u", Mail: "u@x.example", AccountEnabled: true})
	r := f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(u.ID))
	wantStatus(t, r, http.StatusNoContent)
	if r.header.Get("request-id") == "" {
		t.Error("the held answer lost its headers")
	}
	if m := restarted(t, path).Members(g.ID); len(m) != 1 || m[0] != u.ID {
		t.Errorf("loaded members = %v, want the user added before the answer", m)
	}
	before := journalSize(t, path)
	wantStatus(t, f.call(t, http.MethodGet, "/v1.0/groups/"+g.ID, nil), http.StatusOK)
	if journalSize(t, path) != before {
		t.Error("a GET wrote to the journal")
	}
}

// Concurrent changes, each answered, are all in the files afterwards, in
// the order they were made, also while compactions run among them.
func TestPersistToKeepsEveryAnsweredChangeUnderConcurrency(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All", "User.EnableDisableAccount.All")
	compactAt(f.ten, 4<<10) // a compaction every few dozen writes
	var users []User
	for i := range 60 {
		users = append(users, f.ten.AddUser(User{DisplayName: "u", Mail: fmt.Sprintf("u%d@x.example", i), AccountEnabled: true}))
	}
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(u.ID)); r.status != http.StatusNoContent {
				t.Errorf("add %s: %d", u.ID, r.status)
			}
			if r := f.call(t, http.MethodPatch, "/v1.0/users/"+u.ID, map[string]any{"accountEnabled": false}); r.status != http.StatusNoContent {
				t.Errorf("disable %s: %d", u.ID, r.status)
			}
		}()
	}
	wg.Wait()
	again := restarted(t, path)
	if got := len(again.Members(g.ID)); got != len(users) {
		t.Errorf("the files hold %d members, want all %d answered", got, len(users))
	}
	wantSameTenant(t, again, f.ten)
}

// Changes made directly, as an administrator would, are saved by Persist.
func TestPersistSavesDirectChanges(t *testing.T) {
	ten := New(Options{})
	path := filepath.Join(t.TempDir(), "tenant.json")
	ten.PersistTo(path)
	if err := ten.Persist(); err != nil {
		t.Fatal(err)
	}
	u := ten.AddUser(User{Mail: "ana@x.example", AccountEnabled: true})
	if err := ten.Persist(); err != nil {
		t.Fatal(err)
	}
	if _, ok := restarted(t, path).User(u.ID); !ok {
		t.Error("the user added directly is not in the saved files")
	}
}

// A record cut short — a power cut in the middle of its write — is left
// out; everything before it loads.
func TestTornLastRecordIsIgnored(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All")
	ana := f.ten.AddUser(User{Mail: "ana@x.example"})
	ben := f.ten.AddUser(User{Mail: "ben@x.example"})
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ana.ID)), http.StatusNoContent)
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ben.ID)), http.StatusNoContent)
	for _, cut := range []int64{1, 20} {
		if err := os.Truncate(journalPath(path), journalSize(t, path)-cut); err != nil {
			t.Fatal(err)
		}
		if m := restarted(t, path).Members(g.ID); len(m) != 1 || m[0] != ana.ID {
			t.Errorf("cut %d bytes: members = %v, want Ana's alone, Ben's record torn", cut, m)
		}
	}
}

// A damaged record before the last is an error naming it, and the tenant
// loading it is left as it was.
func TestCorruptRecordIsAnError(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All")
	ana := f.ten.AddUser(User{Mail: "ana@x.example"})
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ana.ID)), http.StatusNoContent)
	wantStatus(t, f.call(t, http.MethodDelete, "/v1.0/groups/"+g.ID+"/members/"+ana.ID+"/$ref", nil), http.StatusNoContent)
	raw, err := os.ReadFile(journalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	header := bytes.IndexByte(raw, '\n') + 1
	damaged := bytes.Clone(raw)
	damaged[bytes.Index(damaged, []byte("ana@x.example"))] = 'A' // in record 1
	if err := os.WriteFile(journalPath(path), damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	other := New(Options{})
	before := saved(t, other)
	err = other.LoadFile(path)
	if want := fmt.Sprintf("record 1 (byte %d): checksum does not match", header); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("LoadFile = %v, want an error saying %q", err, want)
	}
	if saved(t, other) != before {
		t.Error("a failed LoadFile changed the tenant")
	}
}

// Once the journal outgrows the snapshot, the next write folds it into a
// new snapshot and starts an empty journal naming that snapshot.
func TestCompactionFoldsTheJournalIntoTheSnapshot(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All")
	compactAt(f.ten, 0) // past twice the snapshot's size
	snapshot, _ := os.ReadFile(path)
	var users []User
	for i := 0; ; i++ {
		u := f.ten.AddUser(User{Mail: fmt.Sprintf("u%d@x.example", i)})
		users = append(users, u)
		size := journalSize(t, path)
		wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(u.ID)), http.StatusNoContent)
		if journalSize(t, path) < size {
			break
		}
		if size > 2*int64(len(snapshot))+10<<10 {
			t.Fatalf("the journal grew to %d bytes, past twice the snapshot's %d, and was never folded", size, len(snapshot))
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	alone := New(Options{})
	if err := alone.Load(bytes.NewReader(raw)); err != nil {
		t.Fatal(err)
	}
	if got := len(alone.Members(g.ID)); got != len(users) {
		t.Errorf("the new snapshot holds %d members, want all %d, the compacting write's too", got, len(users))
	}
	journal, _ := os.ReadFile(journalPath(path))
	sum := sha256.Sum256(raw)
	if header, _, _ := bytes.Cut(journal, []byte("\n")); !strings.HasSuffix(string(header), hex.EncodeToString(sum[:])) {
		t.Errorf("the new journal's header %q does not name the new snapshot", header)
	}
	wantSameTenant(t, restarted(t, path), f.ten)
}

// A crash between a compaction's two steps leaves the new snapshot beside
// the old journal, whose changes it holds: they are not applied twice.
func TestCrashBetweenCompactionSteps(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All")
	ana := f.ten.AddUser(User{Mail: "ana@x.example"})
	ben := f.ten.AddUser(User{Mail: "ben@x.example"})
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ana.ID)), http.StatusNoContent)
	old, err := os.ReadFile(journalPath(path))
	if err != nil {
		t.Fatal(err)
	}
	withStore(f.ten, func(s *store) { s.minCompact, s.snapshotSize = 0, 0 }) // the next write compacts
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ben.ID)), http.StatusNoContent)
	if journalSize(t, path) >= int64(len(old)) {
		t.Fatal("the write did not compact")
	}
	if err := os.WriteFile(journalPath(path), old, 0o600); err != nil { // as if the process died before renaming the new one
		t.Fatal(err)
	}
	wantSameTenant(t, restarted(t, path), f.ten)
}

// After a write fails the request is answered 503, and the next write
// saves the whole tenant, so nothing is appended after a record that may
// be incomplete.
func TestAfterAFailedWriteTheNextSavesTheWholeTenant(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All")
	ana := f.ten.AddUser(User{Mail: "ana@x.example"})
	ben := f.ten.AddUser(User{Mail: "ben@x.example"})
	withStore(f.ten, func(s *store) { s.journal.Close() }) // the disk fails
	wantError(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ana.ID)), http.StatusServiceUnavailable, "serviceNotAvailable")
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(ben.ID)), http.StatusNoContent)
	wantSameTenant(t, restarted(t, path), f.ten)
}

// The files hold personal data: only their owner may read them.
func TestPersistedFilesArePrivate(t *testing.T) {
	f, g, path := persisted(t, "GroupMember.ReadWrite.All")
	u := f.ten.AddUser(User{Mail: "ana@x.example"})
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/groups/"+g.ID+"/members/$ref", userRef(u.ID)), http.StatusNoContent)
	for _, p := range []string{path, journalPath(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// BenchmarkPersist measures what persisting one change costs — a user's
// account disabled or enabled, then written down — in tenants of 100 and
// 10,000 users. Compactions are included, amortised: the cost per write
// should not grow with the tenant.
func BenchmarkPersist(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			ten := New(Options{})
			g := ten.AddGroup(Group{DisplayName: "g"})
			var ids []string
			for i := range n {
				u := ten.AddUser(User{DisplayName: fmt.Sprintf("User %d", i), Mail: fmt.Sprintf("user%d@x.example", i), UserType: "Guest", AccountEnabled: true})
				ten.AddMember(g.ID, u.ID)
				ids = append(ids, u.ID)
			}
			path := filepath.Join(b.TempDir(), "tenant.json")
			ten.PersistTo(path)
			if err := ten.Persist(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				ten.SetAccountEnabled(ids[i%n], i/n%2 == 1)
				if err := ten.Persist(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			fi, _ := os.Stat(path)
			b.ReportMetric(float64(fi.Size()), "snapshot-bytes")
		})
	}
}
