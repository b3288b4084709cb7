package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stintdev/stint/pkg/cli"
	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/sandbox"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(args, &out, &errOut, os.LookupEnv)
	return code, out.String(), errOut.String()
}

// The demo's final table is what the sandbox tenant holds: the test reads
// the tenant back from the data directory and compares.
func TestDemoTableMatchesTheTenant(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := t.TempDir()
	code, out, errOut := run(t, "demo", "--data", data, "--json")
	if code != 0 {
		t.Fatalf("demo exited %d: %s", code, errOut)
	}
	var rep cli.DemoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("demo --json: %v\n%s", err, out)
	}
	tenant := sandbox.New(sandbox.Options{})
	if err := tenant.LoadFile(filepath.Join(data, "sandbox.json")); err != nil {
		t.Fatal(err)
	}
	want := host.SandboxTable(tenant, host.SandboxGroups)
	if got, _ := json.Marshal(rep.Table); string(got) != mustJSON(want) {
		t.Errorf("printed table\n  %s\ntenant holds\n  %s", got, mustJSON(want))
	}
	byEmail := map[string]cli.TableRow{}
	for _, r := range rep.Table {
		byEmail[r.Email] = r
	}
	checks := []struct {
		email   string
		enabled bool
		groups  []string
	}{
		{"ana@partner.example", true, []string{"contractor-access"}},
		{"bo@vendor.example", false, nil},
		{"cy@studio.example", false, nil},
		{"mallory@old-vendor.example", true, []string{"contractor-access"}},
	}
	for _, c := range checks {
		r, ok := byEmail[c.email]
		if !ok || r.Enabled != c.enabled || !slices.Equal(r.Groups, c.groups) {
			t.Errorf("%s: %+v (listed %v), want enabled=%v in %v", c.email, r, ok, c.enabled, c.groups)
		}
	}
	joined := strings.Join(rep.Timeline, "\n")
	for _, want := range []string{"400 invalid event: /data/endsAt", "expire cy@studio.example", "ghost: mallory@old-vendor.example", string(engagement.AccountDisabled),
		"policy plan: 4 Conditional Access policies to create", `policy apply: create "stint: contractors require multifactor authentication" (report-only)`,
		`policy drift: "stint: contractors require multifactor authentication" state`} {
		if !strings.Contains(joined, want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
}

func TestOperatorCommandsOnTheDemoData(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := t.TempDir()
	if code, _, errOut := run(t, "demo", "--data", data, "--json"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, _ := run(t, "access", "--data", data, "--json")
	var rows []cli.AccessRow
	if code != 0 || json.Unmarshal([]byte(out), &rows) != nil || len(rows) != 1 || rows[0].Contractor != "ana@partner.example" || rows[0].Sponsor != "owner@corp.example" {
		t.Errorf("access = %d %s, want Ana alone, with her sponsor", code, out)
	}
	code, out, _ = run(t, "audit", "--data", data, "--contractor", "Bo@Vendor.example")
	if code != 0 || !strings.Contains(out, string(engagement.AccountDisabled)) || strings.Contains(out, "ana@partner.example") {
		t.Errorf("audit --contractor bo = %d\n%s", code, out)
	}
	code, out, _ = run(t, "sweep", "reconcile", "--dry-run", "--data", data)
	if code != 0 || !strings.Contains(out, "reconcile (dry run)") || !strings.Contains(out, "mallory@old-vendor.example") {
		t.Errorf("sweep reconcile --dry-run = %d\n%s", code, out)
	}
	code, out, _ = run(t, "dlq", "list", "--data", data)
	if code != 0 || !strings.HasPrefix(out, "SEQ") {
		t.Errorf("dlq list = %d\n%s", code, out)
	}
	if code, _, errOut := run(t, "dlq", "replay", "7", "--data", data); code == 0 || !strings.Contains(errOut, "no dead letter 7") {
		t.Errorf("dlq replay 7 = %d %s, want a clear refusal", code, errOut)
	}
	if code, _, errOut := run(t, "sweep", "purge", "--data", data); code == 0 || !strings.Contains(errOut, "invalid argument") {
		t.Errorf("sweep purge = %d %s, want refused", code, errOut)
	}
	if code, out, _ := run(t, "send", "--help"); code != 0 || !strings.Contains(out, "Signs each file") {
		t.Errorf("send --help = %d %s", code, out)
	}
}

// checkTenant is one sandbox tenant over TLS, with the app and a group, for
// the whole test process: Go reads SSL_CERT_FILE once per process, so a
// second tenant's CA would not be trusted when the test runs again
// (-count=2). Its server is never closed; the CA file goes with the first
// test's temporary directory once read.
var checkTenant = sync.OnceValues(func() (*checkSandbox, error) {
	tenant := sandbox.New(sandbox.Options{TenantID: "72f988bf-0000-4000-8000-00000000c0de"})
	srv, err := tenant.StartTLS("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tenant.AddApp(sandbox.App{ClientID: "11111111-2222-3333-4444-555555555555", Secret: "s3cret-value"})
	g := tenant.AddGroup(sandbox.Group{DisplayName: "Contractors", SecurityEnabled: true})
	return &checkSandbox{tenant: tenant, url: srv.URL, groupID: g.ID}, nil
})

type checkSandbox struct {
	tenant  *sandbox.Tenant
	url     string
	groupID string
}

// onCheckTenant configures the stint command for checkTenant — its CA
// trusted, its app's secret, its group as contractor-access — with extra
// settings on top, and returns it.
func onCheckTenant(t *testing.T, extra map[string]string) *checkSandbox {
	t.Helper()
	sb, err := checkTenant()
	if err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	sb.tenant.WriteCA(ca)
	env := map[string]string{
		"SSL_CERT_FILE": ca, "AZURE_AUTHORITY_HOST": sb.url, "AZURE_TENANT_ID": "72f988bf-0000-4000-8000-00000000c0de",
		"AZURE_CLIENT_ID": "11111111-2222-3333-4444-555555555555", "AZURE_CLIENT_SECRET": "s3cret-value",
		"STINT_GRAPH_ENDPOINT": sb.url, "STINT_GROUPS": "contractor-access=" + sb.groupID,
	}
	maps.Copy(env, extra)
	for k, v := range env {
		t.Setenv(k, v)
	}
	return sb
}

func TestCheckNamesAMissingPermission(t *testing.T) {
	tenant := onCheckTenant(t, nil).tenant
	perms := slices.DeleteFunc(slices.Clone(entra.Core()), func(p string) bool { return p == "User.EnableDisableAccount.All" })
	tenant.SetPermissions("11111111-2222-3333-4444-555555555555", perms...)
	code, out, errOut := run(t, "check")
	if code == 0 {
		t.Fatalf("check passed with a permission missing:\n%s", out)
	}
	missing := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "MISSING") {
			missing++
			if !strings.Contains(line, "User.EnableDisableAccount.All") {
				t.Errorf("unexpected failure: %s", line)
			}
		}
	}
	if missing != 1 || !strings.Contains(errOut, "1 check(s) failed") {
		t.Errorf("check output:\n%s%s\nwant exactly the missing User.EnableDisableAccount.All named", out, errOut)
	}
	if strings.Contains(out+errOut, "s3cret-value") || strings.Contains(out+errOut, "eyJ") {
		t.Error("check printed a secret or a token")
	}
	tenant.SetPermissions("11111111-2222-3333-4444-555555555555", entra.Core()...)
	if code, out, errOut := run(t, "check"); code != 0 {
		t.Errorf("check with every permission = %d\n%s%s", code, out, errOut)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// The control channel of a stint serve on a real tenant offers no user
// lookups: those are for the sandbox tenant serve owns, and against Entra
// the operator's commands read it with their own credentials.
func TestServeOnATenantLooksNobodyUp(t *testing.T) {
	sb := onCheckTenant(t, nil)
	sb.tenant.SetPermissions("11111111-2222-3333-4444-555555555555", entra.Core()...)
	sb.tenant.AddUser(sandbox.User{Mail: "ana@partner.example", UserType: "Guest", AccountEnabled: true})
	cfg, err := config.Load(config.Stint, os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	h, err := host.Open(context.Background(), host.Options{Config: cfg, Data: data, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	serving(t, h, data)
	if _, err := host.RemoteCheck(context.Background(), data); err != nil {
		t.Fatalf("the control channel does not answer: %v", err)
	}
	_, err = host.RemoteDirectory{Data: data}.FindUser(context.Background(), "ana@partner.example")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("FindUser through serve on a tenant = %v, want no such endpoint (404)", err)
	}
}
