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
	"syscall"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/test/lambdart"
	"github.com/stintdev/stint/test/mistub"
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
		{Issuer: stub.Issuer(), Subject: "arn:aws:iam::123456789012:role/someone-else", Audience: entra.AWSAudience}}})
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
	want := []string{"AADSTS700213", "issuer " + stub.Issuer(), "subject " + lambdaRole, "audience " + entra.AWSAudience, "add one to app " + clientID}
	for _, s := range want {
		if len(lines) != 1 || !strings.Contains(lines[0], s) {
			t.Errorf("start-up output =\n%s\nwant one line saying %q", f.Logs(), s)
		}
	}
	if strings.Contains(f.Logs(), "eyJ") {
		t.Error("the JWT was printed")
	}
}

// On Azure, stint serve gets its Graph token with its managed identity's
// token, traded through the app's federated credential: no secret in its
// environment, none on the app, and the identity's token is asked for once.
func TestServeWithManagedIdentity(t *testing.T) {
	mi, err := mistub.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mi.Close)
	const identity, principal = "5e5e5e5e-0000-4000-8000-00000000c11d", "7a7a7a7a-0000-4000-8000-0000000000a1"
	mi.AddIdentity(identity, principal)
	app := sandbox.App{ClientID: clientID, Permissions: permissions, Federated: []sandbox.FederatedCredential{
		{Issuer: mi.Issuer(), Subject: principal, Audience: entra.AWSAudience}}}
	tenant := serveTenantFor(t, sandbox.Options{TenantID: tenantID, HTTPClient: mi.Client()}, app,
		append(mi.Env(), "STINT_AZURE_FEDERATION=managed-identity", "STINT_MANAGED_IDENTITY_CLIENT_ID="+identity)...)
	for _, kv := range tenant.env {
		if strings.HasPrefix(kv, "AZURE_CLIENT_SECRET=") || strings.HasPrefix(kv, "AZURE_CLIENT_CERTIFICATE_PATH=") {
			t.Fatalf("stint was given %s", strings.SplitN(kv, "=", 2)[0])
		}
	}
	addr := freeAddr(t)
	serve := startServe(t, filepath.Join(t.TempDir(), "data"), addr, tenant.env...)
	defer func() { serve.cmd.Process.Signal(syscall.SIGTERM); serve.cmd.Wait() }()
	now := time.Now()
	email := "mia@partner.example"
	body := evt("mi-1", "started", "ENG-MI", email, now, map[string]any{"endsAt": ts(now.Add(time.Hour))})
	<-sendAll(webhookSecret, [][]byte{body}, func() string { return addr })
	waitFor(t, 20*time.Second, email+" added to the group:\n"+serve.out.String(), func() bool { return tenant.member(email) })
	if got := mi.Issued(); got != 1 {
		t.Errorf("the identity endpoint gave %d tokens, want 1", got)
	}
}
