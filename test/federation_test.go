// End-to-end tests of the AWS functions without a secret: the Lambda
// role's STS web identity token, traded with the sandbox tenant through
// the app's federated identity credential.
package test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/test/lambdart"
	"github.com/stintdev/stint/test/mistub"
	sbtest "github.com/stintdev/stint/test/servicebus"
	"github.com/stintdev/stint/test/ststub"
)

const (
	// lambdaRole is the functions' execution role; lambdaKey is the access
	// key id of its session credentials, as Lambda sets them.
	lambdaRole = "arn:aws:iam::123456789012:role/stint-functions"
	lambdaKey  = "test"
)

// startSTS serves the STS stand-in, which knows the functions' role.
func startSTS(tb testing.TB) *ststub.Server {
	tb.Helper()
	s, err := ststub.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	s.AddRole(lambdaKey, lambdaRole)
	return s
}

// federationEnv is a function's credential with STINT_AZURE_FEDERATION:
// no secret, STS at the stand-in, and a session token as Lambda gives.
func federationEnv(s *ststub.Server) []string {
	return []string{"STINT_AZURE_FEDERATION=aws", "AWS_ENDPOINT_URL_STS=" + s.URL(), "AWS_SESSION_TOKEN=lambda-session-token"}
}

// writeTrust writes the CA bundle the functions trust (SSL_CERT_FILE):
// the sandbox's CA and, when there is one, the STS stand-in's certificate.
func writeTrust(tb testing.TB, path string, ten *sandbox.Tenant, s *ststub.Server) {
	tb.Helper()
	if err := ten.WriteCA(path); err != nil {
		tb.Fatal(err)
	}
	if s == nil {
		return
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, append(pem, s.CertPEM()...), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// The worker applies an event with a Graph token bought with its role's
// STS token: no secret in its environment, none on the app.
func TestWorkerWithAWSFederation(t *testing.T) {
	w := newWorld(t, worldOptions{awsFederation: true})
	for _, kv := range w.workerEnv {
		if strings.HasPrefix(kv, "AZURE_CLIENT_SECRET=") || strings.HasPrefix(kv, "AZURE_CLIENT_CERTIFICATE_PATH=") {
			t.Fatalf("the worker was given %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
	now := time.Now()
	email := "fed@partner.example"
	started := evt("fed-start", "started", "ENG-FED", email, now.Add(-time.Minute), map[string]any{"startsAt": ts(now.Add(-time.Hour)), "endsAt": ts(now.Add(30 * 24 * time.Hour))})
	if r := w.post(t, started, signed(t, "fed-1", now, started)); r.StatusCode != 202 {
		t.Fatalf("webhook = %d %s, want 202", r.StatusCode, r.Body)
	}
	w.idle(t)
	u, ok := w.user(t, email)
	if !ok || !u.AccountEnabled {
		t.Fatalf("guest = %+v (found %v), want an enabled guest\nworker log:\n%s", u, ok, w.worker.Logs())
	}
	if got := w.groupsOf(u.ID); !slices.Equal(got, []string{"contractor-access"}) {
		t.Errorf("groups = %v, want contractor-access", got)
	}
	if w.sts.Issued() == 0 {
		t.Error("STS minted no token, yet the worker reached Graph")
	}
	if strings.Contains(w.worker.Logs(), "eyJ") {
		t.Error("a JWT was logged")
	}
}

// A federated credential for another role stops the worker at cold start
// with one line naming the issuer and subject to configure.
func TestWorkerWithAWSFederationForAnotherRole(t *testing.T) {
	stub := startSTS(t)
	ten := sandbox.New(sandbox.Options{TenantID: tenantID, HTTPClient: stub.Client()})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	writeTrust(t, ca, ten, stub)
	ten.AddApp(sandbox.App{ClientID: clientID, Permissions: permissions, Federated: []sandbox.FederatedCredential{
		{Issuer: stub.Issuer(), Subject: "arn:aws:iam::123456789012:role/someone-else", Audience: entra.ExchangeAudience}}})
	g := ten.AddGroup(sandbox.Group{DisplayName: "Contractors", SecurityEnabled: true})
	env := append([]string{"SSL_CERT_FILE=" + ca, "AZURE_AUTHORITY_HOST=" + srv.URL, "AZURE_TENANT_ID=" + tenantID, "AZURE_CLIENT_ID=" + clientID,
		"STINT_GRAPH_ENDPOINT=" + srv.URL, "STINT_STORE=sqlite://" + filepath.Join(t.TempDir(), "l.db"), "STINT_GROUPS=contractor-access=" + g.ID,
		"STINT_DLQ_URL=http://127.0.0.1:1/000000000000/dlq.fifo", "AWS_ACCESS_KEY_ID=" + lambdaKey, "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"},
		federationEnv(stub)...)
	f, err := lambdart.Start(build(t, "worker"), env)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.WaitReady(ctx); err == nil {
		t.Fatal("the worker started serving without a token")
	}
	lines := strings.Split(strings.TrimSpace(f.Logs()), "\n")
	want := []string{"AADSTS700213", "issuer " + stub.Issuer(), "subject " + lambdaRole, "audience " + entra.ExchangeAudience, "add one to app " + clientID}
	for _, s := range want {
		if len(lines) != 1 || !strings.Contains(lines[0], s) {
			t.Errorf("start-up output =\n%s\nwant one line saying %q", f.Logs(), s)
		}
	}
	if strings.Contains(f.Logs(), "eyJ") {
		t.Error("the JWT was printed")
	}
}

// On Azure no secret exists: the webhook and the worker, each with its
// own managed identity, reach Service Bus over TLS with the identity's
// Entra token, and the worker gets its Graph token by trading its
// identity's token through the app's federated credential. Neither is
// given a client secret or a Service Bus connection string, and the app
// has no secret. The worker asks for the token it trades once (azidentity
// keeps it); the webhook, which makes no Graph call, never does.
func TestAzureRolesWithoutASecret(t *testing.T) {
	mi, err := mistub.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mi.Close)
	const (
		hookIdentity, hookPrincipal     = "5e5e5e5e-0000-4000-8000-0000000000b0", "7a7a7a7a-0000-4000-8000-0000000000b0"
		workerIdentity, workerPrincipal = "5e5e5e5e-0000-4000-8000-0000000000b1", "7a7a7a7a-0000-4000-8000-0000000000b1"
	)
	mi.AddIdentity(hookIdentity, hookPrincipal)
	mi.AddIdentity(workerIdentity, workerPrincipal)
	app := sandbox.App{ClientID: clientID, Permissions: permissions, Federated: []sandbox.FederatedCredential{
		{Issuer: mi.Issuer(), Subject: workerPrincipal, Audience: entra.ExchangeAudience}}}
	tenant := serveTenantFor(t, sandbox.Options{TenantID: tenantID, HTTPClient: mi.Client()}, app,
		append(mi.Env(), "STINT_AZURE_FEDERATION=managed-identity")...)
	sb := sbtest.Start(t, sbtest.Options{TLS: true, Queues: []sbtest.QueueOptions{{Name: "events", RequiresSession: true, LockDuration: 5 * time.Second}}})
	trustAlso(t, tenant.env, sb.CertPEM())
	env := append(tenant.env, "STINT_QUEUE_URL=servicebus://"+sb.Namespace()+"/events")
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); slices.Contains([]string{"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "STINT_SERVICEBUS_CONNECTION"}, name) {
			t.Fatalf("stint was given %s", name)
		}
	}
	hookAddr := freeAddr(t)
	startRole(t, "webhook", t.TempDir(), hookAddr, append(env, "STINT_MANAGED_IDENTITY_CLIENT_ID="+hookIdentity))
	worker := startRole(t, "worker", t.TempDir(), freeAddr(t), append(env, "STINT_MANAGED_IDENTITY_CLIENT_ID="+workerIdentity))
	now := time.Now()
	email := "mia@partner.example"
	postSigned(t, hookAddr, "d-mi-1", evt("mi-1", "started", "ENG-MI", email, now, map[string]any{"endsAt": ts(now.Add(time.Hour))}))
	waitFor(t, 30*time.Second, email+" added to the group:\n"+worker.out.String(), func() bool { return tenant.member(email) })
	if got := mi.IssuedFor(workerIdentity, entra.ExchangeAudience); got != 1 {
		t.Errorf("the worker's identity got %d tokens to trade for Graph's, want 1", got)
	}
	if got := mi.IssuedFor(hookIdentity, entra.ExchangeAudience); got != 0 {
		t.Errorf("the webhook's identity got %d tokens to trade for Graph's, want none", got)
	}
	if mi.IssuedFor(hookIdentity, "https://servicebus.azure.net/") == 0 || mi.IssuedFor(workerIdentity, "https://servicebus.azure.net/") == 0 {
		t.Errorf("Service Bus was not reached with the identities' own tokens")
	}
}

// trustAlso adds pem to the CA bundle env's SSL_CERT_FILE names.
func trustAlso(tb testing.TB, env []string, pem []byte) {
	tb.Helper()
	for _, kv := range env {
		if path, ok := strings.CutPrefix(kv, "SSL_CERT_FILE="); ok {
			was, err := os.ReadFile(path)
			if err != nil {
				tb.Fatal(err)
			}
			if err := os.WriteFile(path, append(was, pem...), 0o644); err != nil {
				tb.Fatal(err)
			}
			return
		}
	}
	tb.Fatal("no SSL_CERT_FILE in the environment")
}
