package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/cli"
	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/importer"
	"github.com/stintdev/stint/pkg/sandbox"
)

// openSandbox opens the host of a data directory on its sandbox tenant,
// as stint serve --sandbox does (it makes one the first time).
func openSandbox(tb testing.TB, data string) *host.Host {
	tb.Helper()
	cfg, err := config.Load(config.Stint, os.LookupEnv)
	if err != nil {
		tb.Fatal(err)
	}
	h, err := host.Open(context.Background(), host.Options{Config: cfg, Sandbox: true, Data: data, Addr: "127.0.0.1:0"})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// importData is a data directory served once with --sandbox, its tenant
// holding what prepare adds.
func importData(tb testing.TB, prepare func(*host.Host)) string {
	tb.Helper()
	data := tb.TempDir()
	h := openSandbox(tb, data)
	defer h.Close()
	if prepare != nil {
		prepare(h)
		if err := h.Sandbox.Persist(); err != nil {
			tb.Fatal(err)
		}
	}
	return data
}

// writeList writes a list file and returns its path.
func writeList(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// drain has the worker handle every queued message, as stint serve's
// workers do, and returns the messages it handled.
func drain(tb testing.TB, h *host.Host) []engagement.Message {
	tb.Helper()
	ctx := context.Background()
	var handled []engagement.Message
	for {
		msgs, err := h.Queue.Receive(ctx, 10)
		if err != nil {
			tb.Fatal(err)
		}
		if len(msgs) == 0 {
			return handled
		}
		for _, m := range msgs {
			if v := h.Events.Process(ctx, m.Message); v.Outcome != engagement.Done {
				tb.Fatalf("the worker did not apply %s: %s %v", m.ID, v.Outcome, v.Err)
			}
			if err := h.Queue.Ack(ctx, m.ID); err != nil {
				tb.Fatal(err)
			}
			handled = append(handled, m.Message)
		}
	}
}

func importResult(tb testing.TB, out string) cli.ImportResult {
	tb.Helper()
	var res cli.ImportResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		tb.Fatalf("import --json: %v\n%s", err, out)
	}
	return res
}

const goLive = "Email,Name,Company,Sponsor,Access,End\n" +
	"ana@partner.example,Ana Lima,Partner Ltd,owner@corp.example,contractor-access|github-org,2099-02-28\n" +
	"bo@vendor.example,Bo,Vendor,,github-org,2099-02-28\n" +
	"cy@studio.example,Cy,Studio,,,2099-02-28\n"

// The go-live on the embedded default: the list imported into a data
// directory stint serve --sandbox uses, imported again (queued once), the
// queue handled by the worker: the guests exist and are in their groups,
// the audit trail names the import as the source, the same events again
// are duplicates to the worker, and a third import queues nothing.
func TestImportEndToEnd(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := importData(t, func(h *host.Host) {
		// Bo has an account already, from an earlier project.
		h.Sandbox.AddUser(sandbox.User{Mail: "bo@vendor.example", DisplayName: "Bo", UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
	})
	list := writeList(t, "contractors.csv", goLive)
	code, out, errOut := run(t, "import", "--data", data, list)
	if code != 0 || !strings.Contains(out, "3 rows; 3 events queued, 0 already queued, 0 already applied (source stint/import)") {
		t.Fatalf("import = %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = run(t, "import", "--data", data, "--json", list)
	if res := importResult(t, out); code != 0 || res.Summary != (importer.Summary{Rows: 3, AlreadyQueued: 3}) {
		t.Errorf("import again = %d %+v %s; want all 3 already queued", code, res.Summary, errOut)
	}

	h := openSandbox(t, data)
	handled := drain(t, h)
	if len(handled) != 3 {
		t.Errorf("the worker handled %d events, want 3", len(handled))
	}
	ctx := context.Background()
	for email, keys := range map[string][]string{"ana@partner.example": {"contractor-access", "github-org"}, "bo@vendor.example": {"github-org"}, "cy@studio.example": {"contractor-access"}} {
		u, ok := h.Sandbox.UserByMail(email)
		if !ok {
			t.Errorf("%s: no account in the tenant", email)
			continue
		}
		for key, gid := range h.Groups {
			if got, want := slices.Contains(h.Sandbox.Members(gid), u.ID), slices.Contains(keys, key); got != want {
				t.Errorf("%s in %s: %v, want %v", email, key, got, want)
			}
		}
	}
	if n := len(h.Sandbox.Invitations()); n != 2 {
		t.Errorf("%d invitations, want 2 (Ana and Cy; Bo had an account)", n)
	}
	trail, err := h.Ledger.Audit(ctx, engagement.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	count := func(action engagement.Action) int {
		n := 0
		for _, a := range trail {
			if a.Action == action && a.Actor == importer.Source && strings.HasPrefix(a.EventID, "import-") {
				n++
			}
		}
		return n
	}
	if count(engagement.EventApplied) != 3 || count(engagement.UserInvited) != 2 || count(engagement.GroupAdded) != 4 {
		t.Errorf("audit trail by stint/import: %d applied, %d invited, %d added; want 3, 2, 4\n%+v",
			count(engagement.EventApplied), count(engagement.UserInvited), count(engagement.GroupAdded), trail)
	}

	for _, m := range handled {
		if v := h.Events.Process(ctx, m); v.Outcome != engagement.Done {
			t.Errorf("the same event again: %s %v, want done", v.Outcome, v.Err)
		}
	}
	if trail, err = h.Ledger.Audit(ctx, engagement.AuditQuery{}); err != nil {
		t.Fatal(err)
	}
	if n := count(engagement.EventDuplicate); n != 3 {
		t.Errorf("%d duplicates recorded, want 3", n)
	}
	h.Close()

	code, out, errOut = run(t, "import", "--data", data, "--json", list)
	if res := importResult(t, out); code != 0 || res.Summary != (importer.Summary{Rows: 3, AlreadyApplied: 3}) {
		t.Errorf("import after the worker applied it = %d %+v %s; want all 3 already applied", code, res.Summary, errOut)
	}
}

// With one bad row, each bad row is named on a line of its own, nothing
// is queued or kept, and the command fails.
func TestImportWithBadRowsImportsNothing(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := importData(t, nil)
	list := writeList(t, "contractors.csv", "email,access,end\n"+
		"ana@partner.example,contractor-access,2099-02-28\n"+
		"bo@vendor.example,vpn,2099-02-28\n"+
		"cy@studio.example,,2099-02-30\n"+
		"dee@x.example,,2099-02-28\n")
	code, out, errOut := run(t, "import", "--data", data, list)
	want := "stint: 2 bad row(s); nothing was imported:\n" +
		`row 3, column access: "vpn" is not a configured access key (configured: contractor-access, github-org)` + "\n" +
		`row 4, column end: "2099-02-30" is not a date: want an ISO date (2027-02-28) or a time with its zone (2027-02-28T18:00:00+01:00)` + "\n"
	if code != 1 || errOut != want || out != "" {
		t.Errorf("import = %d\nstdout %q\nstderr %q\nwant 1 and\n%q", code, out, errOut, want)
	}
	code, out, _ = run(t, "import", "--data", data, "--json", list)
	res := importResult(t, out)
	if code != 1 || len(res.Problems) != 2 || res.Problems[0] != (importer.Problem{Row: 3, Column: "access", Reason: `"vpn" is not a configured access key (configured: contractor-access, github-org)`}) {
		t.Errorf("import --json = %d %+v, want the 2 problems", code, res.Problems)
	}
	h := openSandbox(t, data)
	defer h.Close()
	n, err := h.Queue.Len(context.Background())
	marks, merr := h.Ledger.Marks(context.Background(), importer.MarkPrefix)
	if err != nil || merr != nil || n != 0 || len(marks) != 0 {
		t.Errorf("after refused imports: %d queued (%v), marks %v (%v); want nothing written", n, err, marks, merr)
	}
}

// A dry run against a tenant with members already in the groups says who
// would be invited, added, and which memberships nothing justifies — and
// writes nothing: no queue, no ledger, no Graph change. It reads the
// sandbox tenant itself, or through the stint serve that owns it.
func TestImportDryRun(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	data := importData(t, func(h *host.Host) {
		bo := h.Sandbox.AddUser(sandbox.User{Mail: "bo@vendor.example", DisplayName: "Bo", UserType: "Guest", AccountEnabled: true})
		h.Sandbox.AddMember(h.Groups["contractor-access"], bo.ID)
		mallory := h.Sandbox.AddUser(sandbox.User{Mail: "mallory@old-vendor.example", UserType: "Guest", AccountEnabled: true})
		h.Sandbox.AddMember(h.Groups["contractor-access"], mallory.ID)
	})
	before := tenantState(t, data)
	list := writeList(t, "contractors.jsonl", `{"email":"ana@partner.example","access":["contractor-access","github-org"],"end":"2099-02-28"}`+"\n"+
		`{"email":"bo@vendor.example","access":["contractor-access","github-org"],"end":"2099-02-28"}`+"\n"+
		`{"email":"cy@studio.example","start":"2099-01-01","end":"2099-02-28"}`+"\n")
	dryRun := func(how string) {
		t.Helper()
		code, out, errOut := run(t, "import", "--dry-run", "--data", data, "--json", list)
		if code != 0 {
			t.Fatalf("%s: import --dry-run = %d\n%s%s", how, code, out, errOut)
		}
		pv := importResult(t, out).Preview
		if pv == nil {
			t.Fatalf("%s: no preview:\n%s", how, out)
		}
		var invited, added, unjustified []string
		for _, c := range pv.Invitations {
			invited = append(invited, c.Email+" "+strings.Join(c.Access, ","))
		}
		for _, c := range pv.Additions {
			added = append(added, c.Email+" "+strings.Join(c.Access, ","))
		}
		for _, a := range pv.Unjustified {
			unjustified = append(unjustified, a.Name+" "+a.Access+" "+string(a.Finding))
		}
		if want := []string{"ana@partner.example contractor-access,github-org", "cy@studio.example contractor-access"}; !slices.Equal(invited, want) {
			t.Errorf("%s: invitations %q, want %q", how, invited, want)
		}
		if want := []string{"bo@vendor.example github-org"}; !slices.Equal(added, want) {
			t.Errorf("%s: additions %q, want %q", how, added, want)
		}
		if want := []string{"mallory@old-vendor.example contractor-access ghost"}; !slices.Equal(unjustified, want) {
			t.Errorf("%s: unjustified %q, want %q", how, unjustified, want)
		}
		if len(pv.Invitations) == 2 {
			if start := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC); !pv.Invitations[1].At.Equal(start) || !pv.Invitations[0].At.IsZero() {
				t.Errorf("%s: invitation times %v, %v; want Cy's groups at her start, Ana's at once", how, pv.Invitations[0].At, pv.Invitations[1].At)
			}
		}

		code, out, _ = run(t, "import", "--dry-run", "--data", data, list)
		for _, want := range []string{"invite", "ana@partner.example", "add ", "unjustified (ghost)", "mallory@old-vendor.example",
			"stint: dry run of " + list + ": 3 rows valid; 2 invitations, 1 addition to groups, 1 membership nothing justifies. Nothing was written."} {
			if code != 0 || !strings.Contains(out, want) {
				t.Errorf("%s: import --dry-run = %d, lacks %q:\n%s", how, code, want, out)
			}
		}
	}
	dryRun("directly")
	stop := serving(t, openSandbox(t, data), data)
	dryRun("through the running serve")
	stop()

	if after := tenantState(t, data); after != before {
		t.Errorf("the dry run changed the sandbox tenant:\n%s\nwas\n%s", after, before)
	}
	h := openSandbox(t, data)
	defer h.Close()
	n, err := h.Queue.Len(context.Background())
	marks, merr := h.Ledger.Marks(context.Background(), importer.MarkPrefix)
	trail, aerr := h.Ledger.Audit(context.Background(), engagement.AuditQuery{})
	if err != nil || merr != nil || aerr != nil || n != 0 || len(marks) != 0 || len(trail) != 0 {
		t.Errorf("after the dry runs: %d queued, marks %v, %d audit entries (%v %v %v); want nothing written", n, marks, len(trail), err, merr, aerr)
	}
}

// serving runs a host as stint serve does, until stop (or the test's
// end), which also closes it; it returns once serve's control channel is
// open.
func serving(tb testing.TB, h *host.Host, data string) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		<-done
		h.Close()
	})
	tb.Cleanup(stop)
	for range 250 {
		if _, err := os.Stat(filepath.Join(data, "control.json")); err == nil {
			return stop
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	tb.Fatal("stint serve's control channel did not open in 5 s")
	return nil
}

// tenantState is what the sandbox tenant of a data directory holds:
// users, group members and invitations (its app's secret, made afresh at
// each start, aside).
func tenantState(tb testing.TB, data string) string {
	tb.Helper()
	ten := sandbox.New(sandbox.Options{})
	if err := ten.LoadFile(filepath.Join(data, "sandbox.json")); err != nil {
		tb.Fatal(err)
	}
	members := map[string][]string{}
	for key, gid := range host.SandboxGroups {
		members[key] = ten.Members(gid)
	}
	return mustJSON(map[string]any{"users": ten.Users(), "members": members, "invitations": ten.Invitations()})
}

// The file is read before anything else: a missing one is named.
func TestImportNamesAMissingFile(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	code, _, errOut := run(t, "import", "--data", t.TempDir(), "--sandbox", filepath.Join(t.TempDir(), "nope.csv"))
	if code != 1 || !strings.Contains(errOut, "nope.csv: does not exist") {
		t.Errorf("import of a missing file = %d %s", code, errOut)
	}
}

// --zone is checked before anything starts: an unknown zone, or the
// machine's own (Local: another machine would read the same list into
// other events), is refused, naming the flag.
func TestImportChecksTheZoneFirst(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	list := writeList(t, "contractors.csv", goLive)
	for _, zone := range []string{"Mars/Olympus", "Local", ""} {
		data := filepath.Join(t.TempDir(), "data")
		code, _, errOut := run(t, "import", "--data", data, "--sandbox", "--zone", zone, list)
		if code != 1 || !strings.Contains(errOut, "--zone "+strconv.Quote(zone)+": want a time zone name such as UTC or Europe/Berlin") {
			t.Errorf("--zone %q: %d %s", zone, code, errOut)
		}
		if _, err := os.Stat(data); err == nil {
			t.Errorf("--zone %q: the data directory was created", zone)
		}
	}
}
