package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/pkg/ledger/postgres"
	pgtest "github.com/stintdev/stint/test/postgres"
)

// fakeCredential hands out the token it is set to, as an Entra credential
// would until the token is rotated, and records the scopes asked for.
type fakeCredential struct {
	mu     sync.Mutex
	token  string
	err    error
	scopes [][]string
}

var _ azcore.TokenCredential = (*fakeCredential)(nil)

func (f *fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = append(f.scopes, o.Scopes)
	if f.err != nil {
		return azcore.AccessToken{}, f.err
	}
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (f *fakeCredential) rotate(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

func (f *fakeCredential) requests() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.scopes)
}

// passwordServer is a server where the superuser connects without a
// password and every other role with its password (SCRAM), as Azure
// checks an Entra token given as the password.
func passwordServer(tb testing.TB) *pgtest.Server {
	return pgtest.Start(tb, pgtest.Options{HBA: "host all postgres 127.0.0.1/32 trust\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n"})
}

// appDatabase makes a database owned by role, whose password is password,
// and returns its URL for that role with azure=entra.
func appDatabase(tb testing.TB, srv *pgtest.Server, role, password string) string {
	tb.Helper()
	db := dbName(tb, srv.Database(tb))
	if err := srv.Exec("postgres", fmt.Sprintf("CREATE ROLE %q LOGIN PASSWORD '%s'; ALTER DATABASE %s OWNER TO %q", role, password, db, role)); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&azure=entra", role, srv.Port(), db)
}

// With azure=entra, each new connection's password is a token from the
// credential, asked for when the connection opens: after the token rotates
// (and the server knows only the new one), a new connection uses the new
// token, and connections opened before keep working.
func TestEntraTokenIsThePassword(t *testing.T) {
	ctx := context.Background()
	srv := passwordServer(t)
	url := appDatabase(t, srv, "stint-app", "token-1")
	cred := &fakeCredential{token: "token-1"}
	l := open(t, url, postgres.WithCredential(cred))
	ledgertest.Put(t, l, ledgertest.Record("ENG-1", "ana@partner.example", engagement.Active, day(-1), day(30)))
	asked := len(cred.requests())
	if asked == 0 {
		t.Fatal("the credential was never asked for a token")
	}
	for _, scopes := range cred.requests() {
		if !slices.Equal(scopes, []string{postgres.EntraScope}) {
			t.Errorf("token scopes = %v, want [%s]", scopes, postgres.EntraScope)
		}
	}

	// Hold the pooled connection, so that the next read needs a new one.
	held, err := l.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cred.rotate("token-2")
	if err := srv.Exec("postgres", `ALTER ROLE "stint-app" PASSWORD 'token-2'`); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Engagement(ctx, "ENG-1"); err != nil {
		t.Fatalf("read on a new connection after the rotation: %v", err)
	}
	if got := len(cred.requests()); got <= asked {
		t.Errorf("the credential was asked %d times after the rotation, want a new request for the new connection", got-asked)
	}
	var user string
	if err := held.QueryRowContext(ctx, "SELECT current_user").Scan(&user); err != nil || user != "stint-app" {
		t.Errorf("the connection opened with the old token: current_user = %q, %v; want it still working as stint-app", user, err)
	}
	// The old token no longer opens a connection, so the read above used
	// the new one.
	stale := strings.Replace(url, "stint-app@", "stint-app:token-1@", 1)
	stale = strings.Replace(stale, "&azure=entra", "", 1)
	if err := rawDB(t, stale).PingContext(ctx); err == nil {
		t.Error("the server still accepts the old token")
	}
}

// A credential that cannot give a token fails Open with a message that
// says so and carries the credential's reason.
func TestEntraTokenFailureIsReported(t *testing.T) {
	srv := passwordServer(t)
	url := appDatabase(t, srv, "stint-app", "token-1")
	cred := &fakeCredential{err: errors.New("ManagedIdentityCredential: no managed identity endpoint")}
	_, err := postgres.Open(context.Background(), url, postgres.WithCredential(cred))
	for _, want := range []string{"get an Entra ID access token for " + postgres.EntraScope, "no managed identity endpoint"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open error = %v, want it to say %q", err, want)
		}
	}
}

// A failed connection is classified (an unreachable server is transient;
// a refused password is not: retrying will not fix it) and its error never
// shows the URL's password, nor the token given as one.
func TestConnectionErrorsAreClassifiedAndHideSecrets(t *testing.T) {
	srv := passwordServer(t)
	url := appDatabase(t, srv, "stint-app", "right-password")
	tests := []struct {
		name string
		url  string
		cred *fakeCredential
		hide string
		code fault.Code
	}{
		{"a wrong password", strings.Replace(strings.Replace(url, "stint-app@", "stint-app:hunter2-wrong@", 1), "&azure=entra", "", 1), nil,
			"hunter2-wrong", fault.Internal},
		{"a wrong token", url, &fakeCredential{token: "eyJ-wrong-token"}, "eyJ-wrong-token", fault.Internal},
		{"no server", fmt.Sprintf("postgres://stint-app:hunter2-nobody@127.0.0.1:%d/x?sslmode=disable", freePort(t)), nil,
			"hunter2-nobody", fault.Transient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []postgres.Option
			if tt.cred != nil {
				opts = append(opts, postgres.WithCredential(tt.cred))
			}
			_, err := postgres.Open(context.Background(), tt.url, opts...)
			if err == nil {
				t.Fatal("Open succeeded, want an error")
			}
			if strings.Contains(err.Error(), tt.hide) {
				t.Errorf("error %q shows the secret", err)
			}
			if got := fault.CodeOf(err); got != tt.code {
				t.Errorf("error %q has code %s, want %s", err, got, tt.code)
			}
		})
	}
}
