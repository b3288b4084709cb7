package terraform

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/entra"
)

// grant is one AWS operation stint's code calls and the IAM action that
// allows it.
type grant struct {
	op     string // service.Operation, as the SDK names it
	pkg    string // the package that calls it
	action string // "" when no function is granted it (why says why)
	why    string
}

// codeGrants lists every AWS SDK operation stint's packages call. The test
// finds each call in the sources (an <Operation>Input of an
// aws-sdk-go-v2/service package): a call the table lacks, or a row whose
// call is gone, fails it. A function is granted the action of each row
// whose package it links.
var codeGrants = []grant{
	{"sqs.SendMessage", "pkg/queue/sqs", "sqs:SendMessage", "Queue.Enqueue (the webhook) and Queue.DeadLetter (the worker)"},
	{"dynamodb.DescribeTable", "pkg/ledger/dynamo", "dynamodb:DescribeTable", "New checks the table at cold start"},
	{"dynamodb.GetItem", "pkg/ledger/dynamo", "dynamodb:GetItem", "reads by key, strongly consistent"},
	{"dynamodb.BatchGetItem", "pkg/ledger/dynamo", "dynamodb:BatchGetItem", "a contractor's engagements by their ids"},
	{"dynamodb.Query", "pkg/ledger/dynamo", "dynamodb:Query", "the by-due index, the marks partition, audit entries"},
	{"dynamodb.PutItem", "pkg/ledger/dynamo", "dynamodb:PutItem", "conditional writes, leases"},
	{"dynamodb.UpdateItem", "pkg/ledger/dynamo", "dynamodb:UpdateItem", "Commit's redo log and claims"},
	{"dynamodb.DeleteItem", "pkg/ledger/dynamo", "dynamodb:DeleteItem", "releasing a lease, deleting a mark"},
	{"dynamodb.CreateTable", "pkg/ledger/dynamo", "", "dynamo.CreateTable serves tests and local servers; Terraform creates the table"},
	{"sts.GetWebIdentityToken", "pkg/entra", "sts:GetWebIdentityToken", "the Graph token's assertion (STINT_AZURE_FEDERATION=aws)"},
	{"secretsmanager.GetSecretValue", "pkg/awssecret", "secretsmanager:GetSecretValue", "the webhook secret at cold start (STINT_WEBHOOK_SECRET_ARN)"},
}

// lambdaGrants are what Lambda does with a function's role rather than its
// code: write its logs, and for the worker, poll the queue for the event
// source mapping.
var lambdaGrants = map[config.Binary][]string{
	config.Webhook: {"logs:CreateLogStream", "logs:PutLogEvents"},
	config.Worker: {"logs:CreateLogStream", "logs:PutLogEvents",
		"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
	config.Sweep: {"logs:CreateLogStream", "logs:PutLogEvents"},
}

const modulePath = "github.com/stintdev/stint/"

func TestEachRoleGrantsWhatItsFunctionCalls(t *testing.T) {
	m := loadAll(t)[awsModule]
	found := map[string]bool{} // "pkg op" over every binary
	for _, b := range lambdaBinaries {
		t.Run(string(b), func(t *testing.T) {
			want := slices.Clone(lambdaGrants[b])
			for pkg, ops := range sdkCalls(t, b) {
				for _, op := range ops {
					found[pkg+" "+op] = true
					i := slices.IndexFunc(codeGrants, func(g grant) bool { return g.op == op && g.pkg == pkg })
					if i < 0 {
						t.Errorf("%s calls %s, which codeGrants does not list: add it with its IAM action", pkg, op)
						continue
					}
					if a := codeGrants[i].action; a != "" && !slices.Contains(want, a) {
						want = append(want, a)
					}
				}
			}
			got := m.roleActions(t, "aws_lambda_function."+string(b))
			if d := diff(got, want); d != "" {
				t.Errorf("the %s role's actions differ from what its code calls: %s", b, d)
			}
		})
	}
	for _, g := range codeGrants {
		if !found[g.pkg+" "+g.op] {
			t.Errorf("codeGrants lists %s in %s, which no function's code calls any more: remove the row", g.op, g.pkg)
		}
	}
}

// roleActions returns the actions fn's role is granted: the statements of
// the policy documents of its inline policies. Managed policies would grant
// more than the code calls, so there must be none.
func (m *module) roleActions(t *testing.T, fn string) []string {
	t.Helper()
	role := strings.TrimSuffix(ref(attr(t, m.resource(t, fn), "role")), ".arn")
	if !strings.HasPrefix(role, "aws_iam_role.") {
		t.Fatalf("%s's role is %q, want aws_iam_role.<name>.arn", fn, role)
	}
	var actions []string
	for addr, r := range m.resources {
		a := r.Body.Attributes["role"]
		if a == nil || (ref(a.Expr) != role+".id" && ref(a.Expr) != role+".name") {
			continue
		}
		if strings.HasPrefix(addr, "aws_iam_role_policy_attachment.") {
			t.Errorf("%s attaches a managed policy to %s: grant only the actions the code calls", addr, role)
			continue
		}
		if !strings.HasPrefix(addr, "aws_iam_role_policy.") {
			continue
		}
		doc := strings.TrimSuffix(strings.TrimPrefix(ref(attr(t, r, "policy")), "data."), ".json")
		d := m.data[doc]
		if d == nil || !strings.HasPrefix(doc, "aws_iam_policy_document.") {
			t.Fatalf("%s's policy is not data.aws_iam_policy_document.<name>.json", addr)
		}
		for _, s := range blocks(d, "statement") {
			if e := s.Body.Attributes["effect"]; e != nil && m.eval(t, e.Expr, nil).AsString() != "Allow" {
				t.Fatalf("%s: only Allow statements are checked", doc)
			}
			actions = append(actions, m.stringList(t, attr(t, s, "actions"), nil)...)
			m.checkAudience(t, doc, s)
		}
	}
	slices.Sort(actions)
	return slices.Compact(actions)
}

// checkAudience: a role may get web identity tokens for Entra only.
func (m *module) checkAudience(t *testing.T, doc string, s *hclsyntax.Block) {
	t.Helper()
	if !slices.Contains(m.stringList(t, attr(t, s, "actions"), nil), "sts:GetWebIdentityToken") {
		return
	}
	for _, c := range blocks(s, "condition") {
		if m.eval(t, attr(t, c, "variable"), nil).AsString() == "sts:IdentityTokenAudience" {
			if got := m.stringList(t, attr(t, c, "values"), nil); !slices.Equal(got, []string{entra.ExchangeAudience}) {
				t.Errorf("%s: sts:IdentityTokenAudience = %q, want [%s]", doc, got, entra.ExchangeAudience)
			}
			return
		}
	}
	t.Errorf("%s: sts:GetWebIdentityToken without a sts:IdentityTokenAudience condition", doc)
}

func TestSchedulerMayOnlyInvokeTheSweep(t *testing.T) {
	m := loadAll(t)[awsModule]
	for _, s := range []string{"tick", "reconcile"} {
		target := blocks(m.resource(t, "aws_scheduler_schedule."+s), "target")[0]
		if got := ref(attr(t, target, "role_arn")); got != "aws_iam_role.scheduler.arn" {
			t.Errorf("the %s schedule's role is %q, want aws_iam_role.scheduler.arn", s, got)
		}
	}
	doc := m.data["aws_iam_policy_document.scheduler"]
	if doc == nil {
		t.Fatal("no data.aws_iam_policy_document.scheduler")
	}
	for _, s := range blocks(doc, "statement") {
		if got := m.stringList(t, attr(t, s, "actions"), nil); !slices.Equal(got, []string{"lambda:InvokeFunction"}) {
			t.Errorf("the scheduler is granted %q, want [lambda:InvokeFunction]", got)
		}
		if got := hclsyntax.Expression(attr(t, s, "resources")); len(got.Variables()) != 1 || traversalString(got.Variables()[0]) != "aws_lambda_function.sweep.arn" {
			t.Errorf("the scheduler may invoke %s, want only aws_lambda_function.sweep.arn", got.Range())
		}
	}
}

// sdkCalls returns, for each of the binary's own packages (relative to the
// module root), the AWS SDK operations its sources call, as built for
// Lambda (linux/arm64).
func sdkCalls(t *testing.T, b config.Binary) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{join .GoFiles \",\"}}", "./functions/"+string(b))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps ./functions/%s: %v\n%s", b, err, stderr.String())
	}
	calls := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 || !strings.HasPrefix(f[0], modulePath) || f[2] == "" {
			continue
		}
		pkg := strings.TrimPrefix(f[0], modulePath)
		for _, name := range strings.Split(f[2], ",") {
			calls[pkg] = append(calls[pkg], fileSDKCalls(t, filepath.Join(f[1], name))...)
		}
		slices.Sort(calls[pkg])
		calls[pkg] = slices.Compact(calls[pkg])
	}
	return calls
}

// fileSDKCalls finds the operations a Go file calls: every operation of an
// aws-sdk-go-v2 service client takes its <Operation>Input (so do its
// paginators and waiters), so each such type the file names is a call.
func fileSDKCalls(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", file, err)
	}
	services := map[string]string{} // import name -> service
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		svc, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/")
		if !ok || strings.Contains(svc, "/") {
			continue
		}
		name := path.Base(p)
		if imp.Name != nil {
			name = imp.Name.Name
		}
		services[name] = svc
	}
	var ops []string
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok && services[x.Name] != "" {
				if op, ok := strings.CutSuffix(sel.Sel.Name, "Input"); ok && op != "" {
					ops = append(ops, services[x.Name]+"."+op)
				}
			}
		}
		return true
	})
	return ops
}
