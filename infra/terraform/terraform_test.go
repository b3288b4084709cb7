// Package terraform holds stint's Terraform (aws/, azure/, entra/,
// examples/) and this check of it, which needs no cloud, no provider and no
// registry: it reads the .tf files with HCL and compares them with the code
// they deploy.
//
//   - every .tf file parses; every variable is documented; every var.X,
//     local.X, data, module, aws_*, azurerm_* and azuread_* resource
//     referenced is declared; a module call gives only, and every
//     required, variable of the module;
//   - each function's environment is exactly what its binary reads
//     (pkg/config's declarations), less the credential settings that
//     STINT_AZURE_FEDERATION=aws replaces;
//   - each function's role grants exactly the AWS actions its code calls
//     (iam_test.go);
//   - the DynamoDB table is the one dynamo.CreateTable creates;
//   - the queue keeps maxReceiveCount 5 and a visibility timeout of at
//     least six times the worker's timeout; the schedules send the sweep
//     the inputs it takes.
//   - on Azure, each app's and job's environment is what `stint serve
//     --only ROLE` (or `stint sweep`) reads, with no secret given as a
//     value; each managed identity holds exactly its roles, each on the
//     one resource it needs; the Service Bus queue, the PostgreSQL server
//     and the jobs keep the relations stint relies on; and every command
//     line is one stint's own command accepts (azure_test.go).
//   - the Entra app registrations request and are granted exactly the
//     Graph app roles of pkg/entra's permissions, the groups are plain
//     security groups, and the federated credentials have the audience
//     Entra expects (entra_test.go).
//
// When a terraform binary is on the PATH, `terraform fmt -check` runs too
// (it needs no providers); without one that part is only logged, since CI
// may not have Terraform: the HCL checks above are the ones that always run.
package terraform

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/ledger/dynamo"
	"github.com/stintdev/stint/pkg/sweep"
)

const awsModule, azureModule, entraModule = "aws", "azure", "entra"

// loadAll reads every module under infra/terraform; the AWS, the Azure and
// the Entra modules must be among them.
func loadAll(tb testing.TB) map[string]*module {
	tb.Helper()
	mods := loadModules(tb, ".")
	for _, dir := range []string{awsModule, azureModule, entraModule} {
		if mods[dir] == nil {
			tb.Fatalf("no .tf files in infra/terraform/%s", dir)
		}
	}
	return mods
}

func TestEveryVariableIsDocumentedAndEveryReferenceDeclared(t *testing.T) {
	for dir, m := range loadAll(t) {
		t.Run(dir, func(t *testing.T) {
			for name, b := range m.variables {
				d := b.Body.Attributes["description"]
				if d == nil {
					t.Errorf("variable %s has no description", name)
					continue
				}
				if v, diags := d.Expr.Value(nil); diags.HasErrors() || v.Type() != cty.String || strings.TrimSpace(v.AsString()) == "" {
					t.Errorf("variable %s: the description is empty or not a constant string", name)
				}
			}
			for _, body := range m.bodies {
				hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
					if e, ok := n.(*hclsyntax.ScopeTraversalExpr); ok {
						if msg := m.undeclared(e.Traversal); msg != "" {
							t.Errorf("%s: %s", e.Range(), msg)
						}
					}
					return nil
				})
			}
			for name, call := range m.modules {
				m.checkCall(t, name, call)
			}
		})
	}
}

// undeclared names what a reference points to that the module lacks.
func (m *module) undeclared(t hcl.Traversal) string {
	attrAt := func(i int) string {
		if len(t) > i {
			if a, ok := t[i].(hcl.TraverseAttr); ok {
				return a.Name
			}
		}
		return ""
	}
	root := t.RootName()
	switch {
	case root == "var" && m.variables[attrAt(1)] == nil:
		return "var." + attrAt(1) + " is not declared"
	case root == "local" && m.locals[attrAt(1)] == nil:
		return "local." + attrAt(1) + " is not declared"
	case root == "module" && m.modules[attrAt(1)] == nil:
		return "module." + attrAt(1) + " is not declared"
	case root == "data" && m.data[attrAt(1)+"."+attrAt(2)] == nil:
		return "data." + attrAt(1) + "." + attrAt(2) + " is not declared"
	case (strings.HasPrefix(root, "aws_") || strings.HasPrefix(root, "azuread_") || strings.HasPrefix(root, "azurerm_")) && m.resources[root+"."+attrAt(1)] == nil:
		return root + "." + attrAt(1) + " is not declared"
	}
	return ""
}

// checkCall checks a call of a local module: each argument is one of its
// variables, and each variable without a default is given.
func (m *module) checkCall(t *testing.T, name string, call *hclsyntax.Block) {
	t.Helper()
	src, diags := attr(t, call, "source").Value(nil)
	if diags.HasErrors() || !strings.HasPrefix(src.AsString(), ".") {
		return // a registry module: not ours to check
	}
	callee := loadModules(t, filepath.Join(m.dir, src.AsString()))[filepath.Join(m.dir, src.AsString())]
	if callee == nil {
		t.Fatalf("module %s: no .tf files at %s", name, src.AsString())
	}
	meta := []string{"source", "version", "providers", "count", "for_each", "depends_on"}
	for arg := range call.Body.Attributes {
		if callee.variables[arg] == nil && !slices.Contains(meta, arg) {
			t.Errorf("module %s: argument %s is not a variable of %s", name, arg, src.AsString())
		}
	}
	for v, b := range callee.variables {
		if b.Body.Attributes["default"] == nil && call.Body.Attributes[v] == nil {
			t.Errorf("module %s: variable %s of %s has no default and is not given", name, v, src.AsString())
		}
	}
}

// notGiven are the settings others take the place of: the credential
// settings that
// STINT_AZURE_FEDERATION=aws takes the place of (config refuses the first
// three with it; the certificate's password goes with the certificate),
// and STINT_WEBHOOK_SECRET, which STINT_WEBHOOK_SECRET_ARN does (config
// wants one of the two): the functions get none of them. Nor do they get
// STINT_NOTIFY_SECRET, which would sit in the sweep's environment: the
// module offers only the unsigned formats (teams, slack). Every other
// setting a binary reads is given, empty when the deployment leaves it to
// stint's default.
var notGiven = []string{
	"AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
	"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE",
	"STINT_WEBHOOK_SECRET",
	"STINT_NOTIFY_SECRET",
}

// lambdaBinaries are the binaries deployed as functions, each as
// aws_lambda_function.<binary>.
var lambdaBinaries = []config.Binary{config.Webhook, config.Worker, config.Sweep}

func TestEachFunctionIsGivenWhatItsBinaryReads(t *testing.T) {
	m := loadAll(t)[awsModule]
	for _, name := range notGiven {
		if !slices.ContainsFunc(lambdaBinaries, func(b config.Binary) bool {
			return slices.ContainsFunc(config.ReadBy(b), func(s config.Setting) bool { return s.Name == name })
		}) {
			t.Errorf("notGiven lists %s, which no function reads (pkg/config): update the list", name)
		}
	}
	for _, b := range lambdaBinaries {
		t.Run(string(b), func(t *testing.T) {
			fn := m.resource(t, "aws_lambda_function."+string(b))
			envs := blocks(fn, "environment")
			if len(envs) != 1 {
				t.Fatalf("aws_lambda_function.%s has %d environment blocks, want 1", b, len(envs))
			}
			env := m.objectItems(t, attr(t, envs[0], "variables"))
			var want []string
			for _, s := range config.ReadBy(b) {
				if !slices.Contains(notGiven, s.Name) {
					want = append(want, s.Name)
				}
			}
			if d := diff(sorted(env), want); d != "" {
				t.Errorf("aws_lambda_function.%s's environment differs from what pkg/config says %s reads: %s", b, b, d)
			}
			if e := env["STINT_AZURE_FEDERATION"]; e != nil {
				if v := m.eval(t, e, nil); !v.IsKnown() || v.AsString() != config.FederationAWS {
					t.Errorf("%s: STINT_AZURE_FEDERATION = %#v, want %q", b, v, config.FederationAWS)
				}
			}
			// A secret comes from a variable marked sensitive, so that
			// plans never print it.
			for _, s := range config.ReadBy(b) {
				if e := env[s.Name]; s.Secret && e != nil {
					v := m.variables[strings.TrimPrefix(ref(e), "var.")]
					if v == nil || v.Body.Attributes["sensitive"] == nil || m.eval(t, v.Body.Attributes["sensitive"].Expr, nil) != cty.True {
						t.Errorf("%s: the secret %s is not a sensitive variable (%s)", b, s.Name, e.Range())
					}
				}
			}
		})
	}
}

func TestLedgerTableIsTheOneDynamoCreates(t *testing.T) {
	want := dynamoCreateTable(t)
	m := loadAll(t)[awsModule]
	table := m.resource(t, "aws_dynamodb_table.ledger")
	str := func(b *hclsyntax.Block, name string) string {
		v := m.eval(t, attr(t, b, name), nil)
		if !v.IsKnown() || v.Type() != cty.String {
			t.Fatalf("aws_dynamodb_table.ledger: %s is not a constant string", name)
		}
		return v.AsString()
	}
	keys := func(hash, rng string) string { return "HASH " + hash + ", RANGE " + rng }

	if got := str(table, "billing_mode"); got != want.BillingMode {
		t.Errorf("billing_mode = %s, want %s", got, want.BillingMode)
	}
	if got, w := keys(str(table, "hash_key"), str(table, "range_key")), want.keys(want.KeySchema); got != w {
		t.Errorf("table key = %s, want %s", got, w)
	}
	var attrs, wantAttrs []string
	for _, a := range blocks(table, "attribute") {
		attrs = append(attrs, str(a, "name")+" "+str(a, "type"))
	}
	for _, a := range want.AttributeDefinitions {
		wantAttrs = append(wantAttrs, a.AttributeName+" "+a.AttributeType)
	}
	if d := diff(attrs, wantAttrs); d != "" {
		t.Errorf("attributes: %s", d)
	}
	var gsis, wantGSIs []string
	for _, g := range blocks(table, "global_secondary_index") {
		gsis = append(gsis, str(g, "name")+": "+keys(str(g, "hash_key"), str(g, "range_key"))+", "+str(g, "projection_type"))
	}
	for _, g := range want.GlobalSecondaryIndexes {
		wantGSIs = append(wantGSIs, g.IndexName+": "+want.keys(g.KeySchema)+", "+g.Projection.ProjectionType)
	}
	if d := diff(gsis, wantGSIs); d != "" {
		t.Errorf("global secondary indexes: %s", d)
	}
	if !slices.ContainsFunc(want.GlobalSecondaryIndexes, func(g createIndex) bool { return g.IndexName == dynamo.DueIndex }) {
		t.Errorf("dynamo.CreateTable makes no index %s (dynamo.DueIndex)", dynamo.DueIndex)
	}
	pitr := blocks(table, "point_in_time_recovery")
	if len(pitr) != 1 || m.eval(t, attr(t, pitr[0], "enabled"), nil) != cty.True {
		t.Errorf("point_in_time_recovery is not enabled")
	}
}

// createTable is the part of a DynamoDB CreateTable request the check
// compares.
type createTable struct {
	BillingMode          string
	KeySchema            []keyElement
	AttributeDefinitions []struct{ AttributeName, AttributeType string }
	// GlobalSecondaryIndexes are the table's indexes.
	GlobalSecondaryIndexes []createIndex
}

type keyElement struct{ AttributeName, KeyType string }

type createIndex struct {
	IndexName  string
	KeySchema  []keyElement
	Projection struct{ ProjectionType string }
}

func (createTable) keys(schema []keyElement) string {
	var parts []string
	for _, k := range schema {
		parts = append(parts, k.KeyType+" "+k.AttributeName)
	}
	return strings.Join(parts, ", ")
}

// dynamoCreateTable captures the request dynamo.CreateTable sends: the
// table as the ledger's code lays it out.
func dynamoCreateTable(t *testing.T) createTable {
	t.Helper()
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".CreateTable") {
			body, _ = io.ReadAll(r.Body)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"captured by the test"}`)
	}))
	defer srv.Close()
	db := dynamodb.New(dynamodb.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	_ = dynamo.CreateTable(t.Context(), db, "ledger") // refused once captured
	if body == nil {
		t.Fatal("dynamo.CreateTable sent no CreateTable request")
	}
	var ct createTable
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&ct); err != nil {
		t.Fatalf("decode CreateTable request %s: %v", body, err)
	}
	return ct
}

func TestQueueRedrivesAfterFiveAndOutlastsTheWorker(t *testing.T) {
	m := loadAll(t)[awsModule]
	events, dlq := m.resource(t, "aws_sqs_queue.events"), m.resource(t, "aws_sqs_queue.dlq")
	for _, q := range []*hclsyntax.Block{events, dlq} {
		if m.eval(t, attr(t, q, "fifo_queue"), nil) != cty.True {
			t.Errorf("aws_sqs_queue.%s is not FIFO", q.Labels[1])
		}
	}

	call, ok := attr(t, events, "redrive_policy").(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "jsonencode" || len(call.Args) != 1 {
		t.Fatal("redrive_policy is not jsonencode({...})")
	}
	policy := m.objectItems(t, call.Args[0])
	if got := ref(policy["deadLetterTargetArn"]); got != "aws_sqs_queue.dlq.arn" {
		t.Errorf("redrive deadLetterTargetArn = %q, want aws_sqs_queue.dlq.arn", got)
	}
	if v := m.eval(t, policy["maxReceiveCount"], nil); !v.IsKnown() || !v.Equals(cty.NumberIntVal(5)).True() {
		t.Errorf("redrive maxReceiveCount = %#v, want 5", v)
	}

	visibility := attr(t, events, "visibility_timeout_seconds")
	if !slices.ContainsFunc(visibility.Variables(), func(tr hcl.Traversal) bool { return traversalString(tr) == "var.worker_timeout" }) {
		t.Errorf("the visibility timeout (%s) is not computed from var.worker_timeout", visibility.Range())
	}
	timeout := attr(t, m.resource(t, "aws_lambda_function.worker"), "timeout")
	for _, secs := range []int64{10, 60, 900} {
		vars := map[string]cty.Value{"worker_timeout": cty.NumberIntVal(secs)}
		vis, fn := m.eval(t, visibility, vars), m.eval(t, timeout, vars)
		if vis.LessThan(fn.Multiply(cty.NumberIntVal(6))).True() {
			t.Errorf("worker_timeout %d: visibility timeout %s is under 6 x the worker's timeout %s", secs, vis.AsBigFloat().String(), fn.AsBigFloat().String())
		}
	}

	esm := m.resource(t, "aws_lambda_event_source_mapping.worker")
	if got := ref(attr(t, esm, "event_source_arn")); got != "aws_sqs_queue.events.arn" {
		t.Errorf("the event source is %q, want aws_sqs_queue.events.arn", got)
	}
	if got := ref(attr(t, esm, "function_name")); !strings.HasPrefix(got, "aws_lambda_function.worker.") {
		t.Errorf("the event source mapping feeds %q, want aws_lambda_function.worker", got)
	}
	if got := m.stringList(t, attr(t, esm, "function_response_types"), nil); !slices.Equal(got, []string{"ReportBatchItemFailures"}) {
		t.Errorf("function_response_types = %q, want [ReportBatchItemFailures]", got)
	}
	attr(t, esm, "batch_size")
	if sc := blocks(esm, "scaling_config"); len(sc) != 1 {
		t.Error("the event source mapping has no scaling_config")
	} else {
		attr(t, sc[0], "maximum_concurrency")
	}
}

func TestSchedulesRunTheTickAndTheReconcile(t *testing.T) {
	m := loadAll(t)[awsModule]
	for _, tc := range []struct{ schedule, expression, mode string }{
		{"tick", "rate(1 minute)", "tick"},
		{"reconcile", "rate(1 hour)", "reconcile"},
	} {
		t.Run(tc.schedule, func(t *testing.T) {
			s := m.resource(t, "aws_scheduler_schedule."+tc.schedule)
			if v := m.eval(t, attr(t, s, "schedule_expression"), nil); v.AsString() != tc.expression {
				t.Errorf("schedule_expression = %s, want %s", v.AsString(), tc.expression)
			}
			targets := blocks(s, "target")
			if len(targets) != 1 {
				t.Fatalf("%d targets, want 1", len(targets))
			}
			if got := ref(attr(t, targets[0], "arn")); got != "aws_lambda_function.sweep.arn" {
				t.Errorf("target arn = %q, want aws_lambda_function.sweep.arn", got)
			}
			var in sweep.Input
			raw := m.eval(t, attr(t, targets[0], "input"), nil)
			dec := json.NewDecoder(strings.NewReader(raw.AsString()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&in); err != nil || in.Mode != tc.mode || in.DryRun {
				t.Errorf("input %s: the sweep reads %+v (%v), want mode %s", raw.AsString(), in, err, tc.mode)
			}
		})
	}
}

// TestFormat runs `terraform fmt -check` when terraform is installed, and
// otherwise only logs that it did not (see the package doc).
func TestFormat(t *testing.T) {
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Log("terraform is not on the PATH: the formatting check did not run (the HCL checks did)")
		return
	}
	out, err := exec.Command(bin, "fmt", "-check", "-recursive", "-diff", ".").CombinedOutput()
	if err != nil {
		t.Errorf("terraform fmt -check: %v; run `terraform fmt -recursive infra/terraform`:\n%s", err, out)
	}
}
