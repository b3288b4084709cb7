package entra_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/test/mistub"
)

const azureApp = "b6b6b6b6-2222-3333-4444-555555555555"

// miFixture is a sandbox tenant that verifies managed identity tokens by
// discovery, the managed identity endpoint's stand-in, and the tenant
// settings of a host with STINT_AZURE_FEDERATION=managed-identity.
type miFixture struct {
	srv        *sandbox.Server
	mi         *mistub.Server
	tenant     config.Tenant
	principal  string
	toSandbox  policy.Transporter
	graphScope string
}

// newUUID is a fresh id: the managed identity's tokens are cached for the
// whole process (MSAL), so each fixture's identity is its own.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// newMIFixture assigns a user-assigned identity to the host and trusts
// fedSubject on the app ("" for the identity's own principal id).
func newMIFixture(tb testing.TB, fedSubject string) *miFixture {
	tb.Helper()
	mi, err := mistub.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(mi.Close)
	for _, kv := range mi.Env() {
		k, v, _ := strings.Cut(kv, "=")
		tb.Setenv(k, v)
	}
	f := &miFixture{mi: mi, principal: newUUID()}
	clientID := newUUID()
	mi.AddIdentity(clientID, f.principal)
	if fedSubject == "" {
		fedSubject = f.principal
	}
	ten := sandbox.New(sandbox.Options{TenantID: tenantID, HTTPClient: mi.Client()})
	if f.srv, err = ten.StartTLS("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.srv.Close() })
	ten.AddApp(sandbox.App{ClientID: azureApp, Permissions: corePermissions, Federated: []sandbox.FederatedCredential{
		{Issuer: mi.Issuer(), Subject: fedSubject, Audience: entra.ExchangeAudience}}})
	f.toSandbox = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ten.CAPool()}}}
	f.tenant = config.Tenant{ID: tenantID, ClientID: azureApp, Federation: config.FederationManagedIdentity,
		ManagedIdentityClientID: clientID, AuthorityHost: f.srv.URL}
	f.graphScope = f.srv.URL + "/.default"
	return f
}

func (f *miFixture) token(tb testing.TB, resource func(config.Tenant, policy.Transporter) (azcore.TokenCredential, error), scope string) (azcore.AccessToken, error) {
	tb.Helper()
	cred, err := resource(f.tenant, f.toSandbox)
	if err != nil {
		tb.Fatal(err)
	}
	return cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
}

// claims decodes a JWT's payload (the stand-ins' tokens are JWTs).
func claims(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatal(err)
	}
	return c
}

// The managed identity's token, verified by the tenant through discovery,
// buys the app's Graph token: the token is the app's, with its roles, and
// the identity's token is reused for the requests that follow.
func TestManagedIdentityFederatedCredential(t *testing.T) {
	f := newMIFixture(t, "")
	tok, err := f.token(t, entra.Credential, f.graphScope)
	if err != nil {
		t.Fatalf("GetToken = %v", err)
	}
	if c := claims(t, tok.Token); c["appid"] != azureApp || c["roles"] == nil {
		t.Errorf("Graph token claims = %v, want the app %s's, with its roles", c, azureApp)
	}
	if _, err := f.token(t, entra.Credential, f.srv.URL+"//.default"); err != nil {
		t.Fatalf("GetToken for a second resource = %v", err)
	}
	if got := f.mi.Issued(); got != 1 {
		t.Errorf("the identity endpoint gave %d tokens, want 1 (azidentity keeps it)", got)
	}
}

// Service Bus and PostgreSQL are reached as the identity itself, whose
// roles those are, not as the app.
func TestResourceCredentialIsTheManagedIdentity(t *testing.T) {
	f := newMIFixture(t, "")
	tok, err := f.token(t, entra.ResourceCredential, "https://servicebus.azure.net/.default")
	if err != nil {
		t.Fatalf("GetToken = %v", err)
	}
	if c := claims(t, tok.Token); c["sub"] != f.principal || c["aud"] != "https://servicebus.azure.net" || c["iss"] != f.mi.Issuer() {
		t.Errorf("Service Bus token claims = %v, want the identity %s's for https://servicebus.azure.net", c, f.principal)
	}
}

// Each refusal is one error naming what to set up, and never the token.
func TestManagedIdentityRefusals(t *testing.T) {
	tests := []struct {
		name    string
		subject string // of the app's federated credential
		setup   func(*miFixture)
		code    fault.Code
		want    func(*miFixture) []string
	}{
		{name: "federated credential for another identity", subject: "00000000-0000-0000-0000-0000000000ff", code: fault.Unauthorized,
			want: func(f *miFixture) []string {
				return []string{"Entra refused the managed identity's token", "AADSTS700213", "add one to app " + azureApp,
					"subject " + f.principal, "audience api://AzureADTokenExchange", "issuer " + f.mi.Issuer()}
			}},
		{name: "identity not assigned to the host", setup: func(f *miFixture) { f.mi.RemoveIdentity(f.tenant.ManagedIdentityClientID) }, code: fault.Unauthorized,
			want: func(f *miFixture) []string {
				return []string{"STINT_MANAGED_IDENTITY_CLIENT_ID=" + f.tenant.ManagedIdentityClientID, "assign that identity to this app or job"}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newMIFixture(t, tt.subject)
			if tt.setup != nil {
				tt.setup(f)
			}
			_, err := f.token(t, entra.Credential, f.graphScope)
			if !fault.Is(err, tt.code) {
				t.Fatalf("GetToken = %v, want %s", err, tt.code)
			}
			for _, w := range tt.want(f) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error = %q repeats the JWT", err)
			}
		})
	}
}
