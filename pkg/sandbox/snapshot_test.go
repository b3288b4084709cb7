package sandbox

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	f := newFixture(t, "User.Invite.All", "GroupMember.Read.All")
	s := seed(f.ten)
	g := f.ten.AddGroup(Group{DisplayName: "Contractors", SecurityEnabled: true})
	for _, u := range []User{s.pat, s.ana, s.bo} {
		_ = f.ten.AddMember(g.ID, u.ID)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.ten.AddApp(App{ClientID: "cert-app", Certificate: selfSigned(t, rsaKey),
		Federated: []FederatedCredential{{Issuer: "https://issuer.example", Subject: "s", Audience: "a", Key: &ecKey.PublicKey},
			{Issuer: "https://discovered.example", Subject: "s", Audience: "a"}}})
	wantStatus(t, f.call(t, http.MethodPost, "/v1.0/invitations", inviteBody("dana@supplier.example")), http.StatusCreated)

	var buf bytes.Buffer
	if err := f.ten.Save(&buf); err != nil {
		t.Fatal(err)
	}
	saved := buf.String()

	restored := New(Options{})
	if err := restored.Load(strings.NewReader(saved)); err != nil {
		t.Fatal(err)
	}
	if restored.TenantID() != f.ten.TenantID() || restored.Domain() != f.ten.Domain() {
		t.Errorf("tenant = %s %s, want %s %s", restored.TenantID(), restored.Domain(), f.ten.TenantID(), f.ten.Domain())
	}
	if !reflect.DeepEqual(restored.Users(), f.ten.Users()) {
		t.Errorf("users differ:\n%+v\n%+v", restored.Users(), f.ten.Users())
	}
	if !reflect.DeepEqual(restored.Members(g.ID), f.ten.Members(g.ID)) {
		t.Errorf("members = %v, want %v in order", restored.Members(g.ID), f.ten.Members(g.ID))
	}
	if !reflect.DeepEqual(restored.Invitations(), f.ten.Invitations()) {
		t.Errorf("invitations = %+v, want %+v", restored.Invitations(), f.ten.Invitations())
	}
	a, ok := restored.app("cert-app")
	if !ok || a.Certificate == nil || len(a.Federated) != 2 || !a.Federated[0].Key.(*ecdsa.PublicKey).Equal(&ecKey.PublicKey) ||
		a.Federated[1].Key != nil || a.Federated[1].Issuer != "https://discovered.example" {
		t.Errorf("app = %+v", a)
	}
	var again bytes.Buffer
	if err := restored.Save(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != saved {
		t.Error("Save after Load differs from the original snapshot")
	}

	// The restored tenant serves the same directory to the same app.
	srv, err := restored.StartTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	f2 := &fixture{ten: restored, srv: srv, client: &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: restored.CAPool()}}}}
	f2.token = f2.getToken(t, testAppID, testSecret)
	r := f2.call(t, http.MethodGet, "/v1.0/groups/"+g.ID+"/members", nil)
	wantStatus(t, r, http.StatusOK)
	if got := ids(r); !reflect.DeepEqual(got, f.ten.Members(g.ID)) {
		t.Errorf("members over Graph = %v", got)
	}
}

func TestLoadRejectsBadSnapshots(t *testing.T) {
	ten := New(Options{})
	u := ten.AddUser(User{DisplayName: "Keep Me"})
	for _, bad := range []string{
		`not json`,
		`{"version":9,"tenantId":"t","domain":"d"}`,
		`{"version":1,"tenantId":"t","domain":"d","groups":[{"ID":"g","members":["nobody"]}]}`,
		`{"version":1,"tenantId":"t","domain":"d","users":[{"ID":"u"}]}`,
	} {
		if err := ten.Load(strings.NewReader(bad)); err == nil {
			t.Errorf("Load(%s) succeeded", bad)
		}
	}
	if _, ok := ten.User(u.ID); !ok {
		t.Error("a failed Load changed the tenant")
	}
}
