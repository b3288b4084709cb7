package config_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

const gid = "6f1c2f3e-0000-4000-8000-000000000001"

// env is a Lookup over a map.
func env(kv ...string) config.Lookup {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// sweepEnv is what the sweep function needs, plus kv.
func sweepEnv(kv ...string) config.Lookup {
	return env(append([]string{"STINT_GROUPS", "contractor-access=" + gid, "STINT_STORE", "sqlite:///tmp/x.db"}, kv...)...)
}

func TestGroups(t *testing.T) {
	tests := []struct {
		value string
		want  map[string]string
		err   string
	}{
		{value: "contractor-access=" + gid, want: map[string]string{"contractor-access": gid}},
		{value: " contractor-access = " + strings.ToUpper(gid) + " , github-org=6f1c2f3e-0000-4000-8000-000000000002",
			want: map[string]string{"contractor-access": gid, "github-org": "6f1c2f3e-0000-4000-8000-000000000002"}},
		{value: "", err: "STINT_GROUPS is not set"},
		{value: "contractor-access", err: `entry 1 ("contractor-access") is not key=groupObjectId`},
		{value: "contractor-access=Contractors", err: `entry 1: "Contractors" is not a group object id`},
		{value: "bad key=" + gid, err: `key "bad key" must be`},
		{value: "a=" + gid + ",a=6f1c2f3e-0000-4000-8000-000000000002", err: `key "a" is listed twice`},
		{value: "a=" + gid + ",b=" + gid, err: `listed under both "a" and "b"`},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			c, err := config.Load(config.Sweep, env("STINT_GROUPS", tt.value, "STINT_STORE", "sqlite:///tmp/x.db", "STINT_DEFAULT_ACCESS", "a"))
			if tt.err != "" {
				if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Load error = %v, want %q", err, tt.err)
				}
				return
			}
			if len(c.Groups) != len(tt.want) {
				t.Fatalf("Groups = %v, want %v", c.Groups, tt.want)
			}
			for k, v := range tt.want {
				if c.Groups[k] != v {
					t.Errorf("Groups[%s] = %q, want %q", k, c.Groups[k], v)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Load(config.Sweep, sweepEnv())
	if err != nil {
		t.Fatal(err)
	}
	if c.GraphEndpoint != "https://graph.microsoft.com" || c.RedirectURL != config.DefaultRedirectURL || c.SendInvitation ||
		c.GhostGrace != 24*time.Hour || c.UnredeemedAfter != 30*24*time.Hour || c.GhostReport ||
		len(c.DefaultAccess) != 1 || c.DefaultAccess[0] != "contractor-access" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		name string
		kv   []string
		err  string
		want func(c config.Config) bool
	}{
		{"two default keys", []string{"STINT_GROUPS", "contractor-access=" + gid + ",github-org=6f1c2f3e-0000-4000-8000-000000000002", "STINT_DEFAULT_ACCESS", "github-org, contractor-access"}, "",
			func(c config.Config) bool { return len(c.DefaultAccess) == 2 }},
		{"an unknown default key", []string{"STINT_DEFAULT_ACCESS", "vpn"}, `"vpn" is not a key of STINT_GROUPS (contractor-access)`, nil},
		{"a bad bool", []string{"STINT_SEND_INVITATION", "yes please"}, "STINT_SEND_INVITATION \"yes please\": want true or false", nil},
		{"an http redirect", []string{"STINT_INVITE_REDIRECT_URL", "http://apps.example"}, "want an https URL", nil},
		{"90m", []string{"STINT_GHOST_GRACE", "90m"}, "", func(c config.Config) bool { return c.GhostGrace == 90*time.Minute }},
		{"30d", []string{"STINT_GHOST_GRACE", "30d"}, "", func(c config.Config) bool { return c.GhostGrace == 30*24*time.Hour }},
		{"soon", []string{"STINT_GHOST_GRACE", "soon"}, `STINT_GHOST_GRACE "soon": want a duration`, nil},
		{"-1h", []string{"STINT_GHOST_GRACE", "-1h"}, `STINT_GHOST_GRACE "-1h": want a duration`, nil},
		{"report", []string{"STINT_GHOST_ACTION", "report"}, "", func(c config.Config) bool { return c.GhostReport }},
		{"delete", []string{"STINT_GHOST_ACTION", "delete"}, "want remove or report", nil},
		{"an endpoint with a path", []string{"STINT_GRAPH_ENDPOINT", "https://graph.microsoft.com/v1.0"}, "want the Graph root", nil},
		{"an http authority", []string{"AZURE_AUTHORITY_HOST", "http://login.example"}, "AZURE_AUTHORITY_HOST", nil},
		{"a secret without ids", []string{"AZURE_CLIENT_SECRET", "s3cret"}, "AZURE_TENANT_ID is not set", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(config.Sweep, sweepEnv(tt.kv...))
			if tt.err != "" {
				if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Load error = %v, want %q", err, tt.err)
				}
				if err != nil && strings.Contains(err.Error(), "s3cret") {
					t.Error("the error prints the secret")
				}
				return
			}
			if err != nil || !tt.want(c) {
				t.Errorf("Load = %+v, %v", c, err)
			}
		})
	}
}

// Every problem is reported at once, one line each, rather than one per
// restart.
func TestAllErrorsTogether(t *testing.T) {
	_, err := config.Load(config.Worker, env("STINT_SEND_INVITATION", "maybe", "STINT_GHOST_GRACE", "x"))
	for _, want := range []string{"STINT_GROUPS is not set", "STINT_STORE is not set", "STINT_DLQ_URL is not set", "STINT_SEND_INVITATION"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load error = %v, want it to say %q", err, want)
		}
	}
	if strings.Contains(fmtErr(err), "STINT_GHOST_GRACE") {
		t.Error("the worker does not read STINT_GHOST_GRACE, yet it was checked")
	}
	if n := strings.Count(fmtErr(err), "\n") + 1; n != 4 {
		t.Errorf("%d lines, want one per problem (4):\n%v", n, err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A binary reads only what it declares: the webhook never sees Graph's
// settings; values say where they came from; secrets never print.
func TestWhatEachBinaryReads(t *testing.T) {
	c, err := config.Load(config.Webhook, env("STINT_WEBHOOK_SECRET", "whsec_c2VjcmV0", "STINT_QUEUE_URL", "https://sqs.example/q.fifo", "AZURE_CLIENT_SECRET", "x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.Values {
		if strings.HasPrefix(v.Name, "AZURE_") {
			t.Errorf("the webhook read %s", v.Name)
		}
		if v.Name == "STINT_WEBHOOK_SECRET" && (v.Shown() != "********" || v.Source != config.FromEnvironment) {
			t.Errorf("the secret shows as %q from %s", v.Shown(), v.Source)
		}
	}
	if c.Tenant.ClientSecret != "" {
		t.Error("the webhook took an Azure secret it does not read")
	}
}

// A password in a URL — STINT_STORE's, in its user information or as a
// parameter — is masked wherever values are printed; the rest of the URL
// shows.
func TestAPasswordInAURLIsMasked(t *testing.T) {
	for store, want := range map[string]string{
		"postgres://stint:s3cret@db.example/stint":                    "postgres://stint:xxxxx@db.example/stint",
		"postgres://stint@db.example/stint?password=s3cret&sslmode=x": "postgres://stint@db.example/stint?password=xxxxx&sslmode=x",
		"postgres://stint@db.example/stint?azure=entra":               "postgres://stint@db.example/stint?azure=entra",
		"sqlite:///var/lib/stint/stint.db":                            "sqlite:///var/lib/stint/stint.db",
	} {
		c, err := config.Load(config.Stint, env("STINT_STORE", store))
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range c.Values {
			if v.Name == "STINT_STORE" && (v.Shown() != want || strings.Contains(v.Shown(), "s3cret")) {
				t.Errorf("STINT_STORE=%s shows as %q, want %q", store, v.Shown(), want)
			}
		}
	}
}

// Nothing but this package reads the environment: a test of the rule the
// issue names, over the source tree.
func TestOnlyConfigReadsTheEnvironment(t *testing.T) {
	var offenders []string
	for _, root := range []string{"../../pkg", "../../functions"} {
		walk(t, root, func(path string, src string) {
			if strings.HasSuffix(path, "_test.go") || strings.HasPrefix(path, "../../pkg/config/") {
				return
			}
			for _, call := range []string{"os.Getenv(", "os.LookupEnv(", "os.Environ("} {
				if strings.Contains(src, call) {
					offenders = append(offenders, path+": "+call)
				}
			}
		})
	}
	if len(offenders) > 0 {
		t.Errorf("the environment is read outside pkg/config:\n%s", strings.Join(offenders, "\n"))
	}
}

func walk(t *testing.T, root string, f func(path, src string)) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		path := root + "/" + e.Name()
		if e.IsDir() {
			walk(t, path, f)
			continue
		}
		if strings.HasSuffix(path, ".go") {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f(path, string(b))
		}
	}
}

// STINT_AZURE_FEDERATION=aws is the only credential: a secret, certificate
// or token file beside it is refused with one message naming them.
func TestAWSFederation(t *testing.T) {
	ids := []string{"AZURE_TENANT_ID", "72f988bf-0000-4000-8000-00000000c0de", "AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"}
	tests := []struct {
		name string
		kv   []string
		err  string
	}{
		{name: "alone", kv: append([]string{"STINT_AZURE_FEDERATION", "aws"}, ids...)},
		{name: "with a secret", kv: append([]string{"STINT_AZURE_FEDERATION", "aws", "AZURE_CLIENT_SECRET", "s"}, ids...),
			err: "STINT_AZURE_FEDERATION=aws takes the Graph token from AWS STS through the app's federated credential, so it cannot be used with AZURE_CLIENT_SECRET: unset AZURE_CLIENT_SECRET"},
		{name: "with a secret and a certificate", kv: append([]string{"STINT_AZURE_FEDERATION", "aws", "AZURE_CLIENT_SECRET", "s", "AZURE_CLIENT_CERTIFICATE_PATH", "/c.pem"}, ids...),
			err: "cannot be used with AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH: unset AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH"},
		{name: "without the tenant", kv: []string{"STINT_AZURE_FEDERATION", "aws", "AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555"},
			err: "AZURE_TENANT_ID is not set"},
		{name: "unknown", kv: append([]string{"STINT_AZURE_FEDERATION", "gcp"}, ids...), err: `STINT_AZURE_FEDERATION "gcp": want aws`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(config.Sweep, sweepEnv(tt.kv...))
			if tt.err == "" {
				if err != nil || c.Tenant.Federation != config.FederationAWS {
					t.Errorf("Load = %+v, %v; want Federation aws", c.Tenant, err)
				}
				return
			}
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Load error = %v, want %q", err, tt.err)
			}
		})
	}
}

// The webhook function takes its secret one way: from Secrets Manager by
// ARN, or (outside a deployment) from STINT_WEBHOOK_SECRET; both, neither
// or a malformed ARN is one precise error.
// STINT_AZURE_FEDERATION=managed-identity is for the stint command (a
// Lambda has no managed identity); the identity's client id is its own
// setting, and is refused where it would be confused with the app's.
func TestManagedIdentityFederation(t *testing.T) {
	const app, identity = "11111111-2222-3333-4444-555555555555", "99999999-8888-7777-6666-555555555555"
	ids := []string{"AZURE_TENANT_ID", "72f988bf-0000-4000-8000-00000000c0de", "AZURE_CLIENT_ID", app}
	tests := []struct {
		name string
		b    config.Binary
		kv   []string
		err  string
	}{
		{name: "user-assigned", b: config.Stint, kv: append([]string{"STINT_AZURE_FEDERATION", "managed-identity", "STINT_MANAGED_IDENTITY_CLIENT_ID", identity}, ids...)},
		{name: "system-assigned", b: config.Stint, kv: append([]string{"STINT_AZURE_FEDERATION", "managed-identity"}, ids...)},
		{name: "in a Lambda function", b: config.Sweep, kv: append([]string{"STINT_AZURE_FEDERATION", "managed-identity"}, ids...),
			err: `STINT_AZURE_FEDERATION "managed-identity": want aws`},
		{name: "with a secret", b: config.Stint, kv: append([]string{"STINT_AZURE_FEDERATION", "managed-identity", "AZURE_CLIENT_SECRET", "s"}, ids...),
			err: "STINT_AZURE_FEDERATION=managed-identity takes the Graph token from the managed identity through the app's federated credential, so it cannot be used with AZURE_CLIENT_SECRET: unset AZURE_CLIENT_SECRET"},
		{name: "the identity's id without federation", b: config.Stint, kv: append([]string{"STINT_MANAGED_IDENTITY_CLIENT_ID", identity}, ids...),
			err: "STINT_MANAGED_IDENTITY_CLIENT_ID is set but STINT_AZURE_FEDERATION is not managed-identity"},
		{name: "the identity's id as the app's", b: config.Stint, kv: []string{"STINT_AZURE_FEDERATION", "managed-identity", "STINT_MANAGED_IDENTITY_CLIENT_ID", app,
			"AZURE_TENANT_ID", "72f988bf-0000-4000-8000-00000000c0de", "AZURE_CLIENT_ID", app},
			err: "AZURE_CLIENT_ID and STINT_MANAGED_IDENTITY_CLIENT_ID are both " + app},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := config.Load(tt.b, sweepEnv(tt.kv...))
			if tt.err == "" {
				if err != nil || c.Tenant.Federation != config.FederationManagedIdentity {
					t.Errorf("Load = %+v, %v; want Federation managed-identity", c.Tenant, err)
				}
				return
			}
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Load error = %v, want %q", err, tt.err)
			}
		})
	}
}

// What stint serve reads in one role is what that role's function reads,
// its data directory, identity and (webhook and worker) Service Bus queue,
// and nothing the other roles alone need.
func TestServedBy(t *testing.T) {
	names := func(b config.Binary) []string {
		var out []string
		for _, s := range config.ServedBy(b) {
			out = append(out, s.Name)
		}
		return out
	}
	has := map[config.Binary][]string{
		config.Webhook: {"STINT_WEBHOOK_SECRET", "STINT_QUEUE_URL", "STINT_GROUPS", "AZURE_TENANT_ID", "STINT_MANAGED_IDENTITY_CLIENT_ID", "STINT_DATA"},
		config.Worker:  {"STINT_QUEUE_URL", "STINT_STORE", "STINT_SEND_INVITATION", "STINT_MANAGED_IDENTITY_CLIENT_ID"},
		config.Sweep:   {"STINT_STORE", "STINT_GHOST_GRACE", "STINT_BREAK_GLASS", "STINT_AZURE_FEDERATION"},
	}
	hasNot := map[config.Binary][]string{
		config.Webhook: {"STINT_STORE", "STINT_SEND_INVITATION", "STINT_WEBHOOK_SECRET_ARN"},
		config.Worker:  {"STINT_WEBHOOK_SECRET", "STINT_GHOST_GRACE", "STINT_DLQ_URL"},
		config.Sweep:   {"STINT_QUEUE_URL", "STINT_WEBHOOK_SECRET", "STINT_SERVICEBUS_CONNECTION"},
	}
	for _, b := range []config.Binary{config.Webhook, config.Worker, config.Sweep} {
		got := names(b)
		for _, n := range has[b] {
			if !slices.Contains(got, n) {
				t.Errorf("ServedBy(%s) lacks %s: %v", b, n, got)
			}
		}
		for _, n := range hasNot[b] {
			if slices.Contains(got, n) {
				t.Errorf("ServedBy(%s) has %s: %v", b, n, got)
			}
		}
	}
}

func TestWebhookSecretOneWay(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint-webhook-AbCdEf"
	queue := []string{"STINT_QUEUE_URL", "https://sqs.example/q.fifo"}
	tests := []struct {
		name string
		env  []string
		want string // "" for no error
	}{
		{"ARN only", []string{"STINT_WEBHOOK_SECRET_ARN", arn}, ""},
		{"secret only", []string{"STINT_WEBHOOK_SECRET", "whsec_c2VjcmV0"}, ""},
		{"both", []string{"STINT_WEBHOOK_SECRET_ARN", arn, "STINT_WEBHOOK_SECRET", "whsec_c2VjcmV0"}, "STINT_WEBHOOK_SECRET and STINT_WEBHOOK_SECRET_ARN are both set"},
		{"neither", nil, "neither STINT_WEBHOOK_SECRET_ARN nor STINT_WEBHOOK_SECRET is set"},
		{"not an ARN", []string{"STINT_WEBHOOK_SECRET_ARN", "stint-webhook"}, `STINT_WEBHOOK_SECRET_ARN "stint-webhook": want a Secrets Manager secret's ARN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(config.Webhook, env(append(tt.env, queue...)...))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load = %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Load error = %v, want one line saying %q", err, tt.want)
			}
			if strings.Contains(fmtErr(err), "c2VjcmV0") {
				t.Errorf("the error prints the secret: %v", err)
			}
		})
	}
	if _, err := config.Load(config.Stint, env("STINT_WEBHOOK_SECRET_ARN", "x")); err != nil {
		t.Errorf("the stint command checked STINT_WEBHOOK_SECRET_ARN, which only the webhook function reads: %v", err)
	}
}

// The report's settings: reminders longest first, and notifications that
// cannot be sent as configured refused with what to set.
func TestRemindersAndNotifications(t *testing.T) {
	c, err := config.Load(config.Sweep, sweepEnv("STINT_REMIND_BEFORE", "1d, 14d,1d,12h"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []time.Duration{14 * 24 * time.Hour, 24 * time.Hour, 12 * time.Hour}; !slices.Equal(c.RemindBefore, want) {
		t.Errorf("RemindBefore = %v, want %v", c.RemindBefore, want)
	}
	if c, _ := config.Load(config.Sweep, sweepEnv()); len(c.RemindBefore) != 2 || c.DormantAfter != 30*24*time.Hour || c.VerifyWindow != 7*24*time.Hour || c.DormantEnd {
		t.Errorf("defaults: RemindBefore %v, DormantAfter %v, VerifyWindow %v, DormantEnd %v", c.RemindBefore, c.DormantAfter, c.VerifyWindow, c.DormantEnd)
	}
	tests := []struct {
		kv  []string
		err string
	}{
		{[]string{"STINT_REMIND_BEFORE", "14d,soon"}, `"soon" is not a positive duration`},
		{[]string{"STINT_NOTIFY_URL", "http://hooks.example.org/stint", "STINT_NOTIFY_SECRET", "whsec_c2VjcmV0"}, "want an https URL"},
		{[]string{"STINT_NOTIFY_URL", "https://hooks.example.org/stint"}, "STINT_NOTIFY_SECRET is not set"},
		{[]string{"STINT_NOTIFY_URL", "https://hooks.example.org/stint", "STINT_NOTIFY_FORMAT", "email"}, `STINT_NOTIFY_FORMAT "email": want cloudevents or teams or slack`},
		{[]string{"STINT_DORMANT_ACTION", "remove"}, `STINT_DORMANT_ACTION "remove": want report or end`},
	}
	for _, tt := range tests {
		if _, err := config.Load(config.Sweep, sweepEnv(tt.kv...)); !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("Load(%v) = %v, want %q", tt.kv, err, tt.err)
		}
	}
	if c, err := config.Load(config.Sweep, sweepEnv("STINT_NOTIFY_URL", "https://example.webhook.office.com/x", "STINT_NOTIFY_FORMAT", "teams")); err != nil || c.Notify.Format != config.NotifyTeams {
		t.Errorf("a Teams webhook without a secret = %+v, %v; want accepted", c.Notify, err)
	}
}
