// End-to-end tests of the AWS functions: the built webhook and worker
// binaries run under a harness that speaks the Lambda Runtime API, against
// the sandbox tenant over TLS (trusted through SSL_CERT_FILE) and an SQS
// server speaking the AWS JSON protocol, driven the way Lambda's SQS event
// source mapping does.
package test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/pkg/webhook"
	"github.com/stintdev/stint/test/lambdart"
	"github.com/stintdev/stint/test/sqsfake"
	"github.com/stintdev/stint/test/ststub"
)

const (
	tenantID = "72f988bf-0000-4000-8000-00000000c0de"
	clientID = "11111111-2222-3333-4444-555555555555"
	secret   = "sandbox-secret-value"
)

var (
	webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("e2e-webhook-secret-32-bytes-long"))
	permissions   = entra.Core()
)

// binaries are built once per test run, the way `make build` builds them.
var binaries struct {
	once sync.Once
	dir  string
	err  error
}

func build(tb testing.TB, fn string) string {
	tb.Helper()
	binaries.once.Do(func() {
		binaries.dir, binaries.err = os.MkdirTemp("", "stint-e2e-bin")
		if binaries.err != nil {
			return
		}
		for _, f := range []string{"webhook", "worker", "sweep", "stint"} {
			// The flags of `go test` itself, so the build cache (msgraph's
			// models take minutes cold) is shared; `make build` adds the
			// release flags.
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(binaries.dir, f, "bootstrap"), "../functions/"+f)
			if out, err := cmd.CombinedOutput(); err != nil {
				binaries.err = fmt.Errorf("go build %s: %v\n%s", f, err, out)
				return
			}
		}
	})
	if binaries.err != nil {
		tb.Fatal(binaries.err)
	}
	return filepath.Join(binaries.dir, fn, "bootstrap")
}

// world is one test's deployment: a tenant, queues, and both functions.
type world struct {
	tenant   *sandbox.Tenant
	sqs      *sqsfake.Server
	webhook  *lambdart.Function
	worker   *lambdart.Function
	sweep    *lambdart.Function
	mapping  *sqsfake.Mapping
	groups   map[string]string
	store    string
	queueURL string
	// sts is the STS stand-in of a world with awsFederation.
	sts *ststub.Server
	// workerEnv is the worker's environment.
	workerEnv []string
}

type worldOptions struct {
	visibility time.Duration
	// maxReceives is the event queue's redrive maxReceiveCount (default 20).
	maxReceives int
	// ghostGrace is STINT_GHOST_GRACE for the sweep (default 24h).
	ghostGrace time.Duration
	// timeout is the worker's Lambda timeout (default 30 s); keep it within
	// the visibility timeout, as AWS advises.
	timeout time.Duration
	// awsFederation: the functions get their Graph token through the STS
	// stand-in and the app's federated credential (STINT_AZURE_FEDERATION=aws);
	// the app has no secret and no function is given one.
	awsFederation bool
}

func newWorld(tb testing.TB, o worldOptions) *world {
	tb.Helper()
	if o.visibility == 0 {
		o.visibility = 300 * time.Millisecond
	}
	if o.maxReceives == 0 {
		o.maxReceives = 20
	}
	if o.timeout == 0 {
		o.timeout = 30 * time.Second
	}
	if o.ghostGrace == 0 {
		o.ghostGrace = 24 * time.Hour
	}
	dir := tb.TempDir()
	w := &world{groups: map[string]string{}}
	credential := []string{"AZURE_CLIENT_SECRET=" + secret}
	var issuers *http.Client // the sandbox's, for OIDC discovery
	if o.awsFederation {
		w.sts = startSTS(tb)
		credential, issuers = federationEnv(w.sts), w.sts.Client()
	}
	w.tenant = sandbox.New(sandbox.Options{TenantID: tenantID, HTTPClient: issuers})
	srv, err := w.tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	ca := filepath.Join(dir, "sandbox-ca.pem")
	writeTrust(tb, ca, w.tenant, w.sts)
	if o.awsFederation {
		w.tenant.AddApp(sandbox.App{ClientID: clientID, Permissions: permissions, Federated: []sandbox.FederatedCredential{
			{Issuer: w.sts.Issuer(), Subject: lambdaRole, Audience: entra.ExchangeAudience}}})
	} else {
		w.tenant.AddApp(sandbox.App{ClientID: clientID, Secret: secret, Permissions: permissions})
	}
	for _, key := range []string{"contractor-access", "github-org"} {
		w.groups[key] = w.tenant.AddGroup(sandbox.Group{DisplayName: key, SecurityEnabled: true}).ID
	}
	w.sqs, err = sqsfake.NewServer()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.sqs.Close() })
	dlqURL, err := w.sqs.CreateQueue("stint-dlq.fifo", sqsfake.QueueOptions{FIFO: true})
	if err != nil {
		tb.Fatal(err)
	}
	queueURL, err := w.sqs.CreateQueue("stint-events.fifo", sqsfake.QueueOptions{FIFO: true, VisibilityTimeout: o.visibility, MaxReceiveCount: o.maxReceives, DeadLetterQueue: "stint-dlq.fifo"})
	if err != nil {
		tb.Fatal(err)
	}
	w.queueURL = queueURL
	var groups []string
	for key, id := range w.groups {
		groups = append(groups, key+"="+id)
	}
	slices.Sort(groups)
	w.store = "sqlite://" + filepath.Join(dir, "ledger.db")
	aws := []string{"AWS_ENDPOINT_URL_SQS=" + w.sqs.URL(), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1"}
	w.webhook, err = lambdart.Start(build(tb, "webhook"), append(aws,
		"STINT_WEBHOOK_SECRET="+webhookSecret, "STINT_QUEUE_URL="+queueURL, "STINT_GROUPS="+strings.Join(groups, ",")))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.webhook.Stop() })
	graph := []string{"SSL_CERT_FILE=" + ca, "AZURE_AUTHORITY_HOST=" + srv.URL, "AZURE_TENANT_ID=" + tenantID, "AZURE_CLIENT_ID=" + clientID,
		"STINT_GRAPH_ENDPOINT=" + srv.URL, "STINT_GROUPS=" + strings.Join(groups, ","), "STINT_STORE=" + w.store}
	graph = append(graph, credential...)
	w.workerEnv = slices.Concat(aws, graph, []string{"STINT_DLQ_URL=" + dlqURL})
	w.worker, err = lambdart.Start(build(tb, "worker"), w.workerEnv)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.worker.Stop() })
	w.sweep, err = lambdart.Start(build(tb, "sweep"), slices.Concat(aws, graph, []string{"STINT_GHOST_GRACE=" + o.ghostGrace.String()}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.sweep.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, f := range []*lambdart.Function{w.webhook, w.worker, w.sweep} {
		if err := f.WaitReady(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	w.mapping = w.sqs.StartMapping("stint-events.fifo", func(ctx context.Context, payload []byte) ([]byte, error) {
		return w.worker.Invoke(ctx, payload, o.timeout)
	}, sqsfake.MappingOptions{BatchSize: 10})
	tb.Cleanup(w.mapping.Stop)
	return w
}

// post sends body to the webhook function as a Function URL request.
func (w *world) post(tb testing.TB, body []byte, headers map[string]string) events.LambdaFunctionURLResponse {
	tb.Helper()
	req := events.LambdaFunctionURLRequest{
		RawPath: "/", Body: string(body), Headers: headers,
		RequestContext: events.LambdaFunctionURLRequestContext{HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{Method: "POST", Path: "/"}},
	}
	payload, _ := json.Marshal(req)
	out, err := w.webhook.Invoke(context.Background(), payload, 10*time.Second)
	if err != nil {
		tb.Fatalf("webhook invoke: %v\n%s", err, w.webhook.Logs())
	}
	var resp events.LambdaFunctionURLResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		tb.Fatalf("webhook answer %s: %v", out, err)
	}
	return resp
}

// signed returns Function URL headers signing body now.
func signed(tb testing.TB, id string, at time.Time, body []byte) map[string]string {
	tb.Helper()
	h, err := webhook.Sign(webhookSecret, id, at, body)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{"content-type": "application/json"}
	for k := range h {
		out[strings.ToLower(k)] = h.Get(k)
	}
	return out
}

// idle waits until the event queue is drained.
func (w *world) idle(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := w.mapping.WaitIdle(ctx); err != nil {
		tb.Fatalf("queue not drained: %v\nworker log:\n%s", err, w.worker.Logs())
	}
}

// A function whose configuration is wrong stops at start-up with one line
// naming the variable, before it takes any event.
func TestWorkerRefusesBadConfigurationAtColdStart(t *testing.T) {
	tenant := sandbox.New(sandbox.Options{TenantID: tenantID})
	srv, err := tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := tenant.WriteCA(ca); err != nil {
		t.Fatal(err)
	}
	tenant.AddApp(sandbox.App{ClientID: clientID, Secret: secret, Permissions: permissions})
	plain := tenant.AddGroup(sandbox.Group{DisplayName: "Contractors", SecurityEnabled: true})
	admins := tenant.AddGroup(sandbox.Group{DisplayName: "Helpdesk admins", SecurityEnabled: true, IsAssignableToRole: true})
	base := []string{"SSL_CERT_FILE=" + ca, "AZURE_AUTHORITY_HOST=" + srv.URL, "AZURE_TENANT_ID=" + tenantID, "AZURE_CLIENT_ID=" + clientID,
		"AZURE_CLIENT_SECRET=" + secret, "STINT_GRAPH_ENDPOINT=" + srv.URL, "STINT_STORE=sqlite://" + filepath.Join(t.TempDir(), "l.db"),
		"STINT_DLQ_URL=http://127.0.0.1:1/000000000000/dlq.fifo", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test"}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"a role-assignable group", []string{"STINT_GROUPS=contractor-access=" + plain.ID + ",admins=" + admins.ID},
			`STINT_GROUPS: admins=` + admins.ID + ` ("Helpdesk admins") is role-assignable`},
		{"no allow-list", []string{"STINT_GROUPS="}, "STINT_GROUPS is not set"},
		{"a malformed store URL", []string{"STINT_GROUPS=contractor-access=" + plain.ID, "STINT_STORE=/var/lib/stint.db"}, `STINT_STORE "/var/lib/stint.db" is not a URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := lambdart.Start(build(t, "worker"), append(slices.Clone(base), tt.env...))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := f.WaitReady(ctx); err == nil {
				t.Fatal("the worker started serving despite the bad configuration")
			}
			lines := strings.Split(strings.TrimSpace(f.Logs()), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) || !strings.HasPrefix(lines[0], "stint worker: ") {
				t.Errorf("start-up output =\n%s\nwant one line saying %q", f.Logs(), tt.want)
			}
			if strings.Contains(f.Logs(), secret) {
				t.Error("the secret was printed")
			}
		})
	}
}
