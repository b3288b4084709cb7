package terraform

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// module is one directory of .tf files, read without Terraform: its
// blocks by kind and address.
type module struct {
	dir       string
	bodies    []*hclsyntax.Body
	variables map[string]*hclsyntax.Block
	locals    map[string]hclsyntax.Expression
	resources map[string]*hclsyntax.Block // "aws_sqs_queue.events"
	data      map[string]*hclsyntax.Block // "aws_iam_policy_document.worker"
	modules   map[string]*hclsyntax.Block
}

// loadModules parses every .tf file under root, one module per directory.
func loadModules(tb testing.TB, root string) map[string]*module {
	tb.Helper()
	parser := hclparse.NewParser()
	mods := map[string]*module{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".tf" {
			return err
		}
		f, diags := parser.ParseHCLFile(path)
		if diags.HasErrors() {
			tb.Errorf("%s does not parse: %s", path, diags.Error())
			return nil
		}
		dir := filepath.Dir(path)
		if mods[dir] == nil {
			mods[dir] = &module{dir: dir, variables: map[string]*hclsyntax.Block{}, locals: map[string]hclsyntax.Expression{},
				resources: map[string]*hclsyntax.Block{}, data: map[string]*hclsyntax.Block{}, modules: map[string]*hclsyntax.Block{}}
		}
		mods[dir].add(tb, path, f.Body.(*hclsyntax.Body))
		return nil
	})
	if err != nil {
		tb.Fatalf("walk %s: %v", root, err)
	}
	return mods
}

func (m *module) add(tb testing.TB, path string, body *hclsyntax.Body) {
	tb.Helper()
	m.bodies = append(m.bodies, body)
	for _, b := range body.Blocks {
		switch b.Type {
		case "variable":
			m.variables[b.Labels[0]] = b
		case "locals":
			for name, a := range b.Body.Attributes {
				if _, dup := m.locals[name]; dup {
					tb.Errorf("%s: local.%s is declared twice", path, name)
				}
				m.locals[name] = a.Expr
			}
		case "resource":
			m.resources[b.Labels[0]+"."+b.Labels[1]] = b
		case "data":
			m.data[b.Labels[0]+"."+b.Labels[1]] = b
		case "module":
			m.modules[b.Labels[0]] = b
		}
	}
}

// resource returns the block at addr, failing the test when there is none.
func (m *module) resource(tb testing.TB, addr string) *hclsyntax.Block {
	tb.Helper()
	b := m.resources[addr]
	if b == nil {
		tb.Fatalf("%s: no resource %s", m.dir, addr)
	}
	return b
}

// attr returns a block's attribute expression, failing the test when it is
// missing.
func attr(tb testing.TB, b *hclsyntax.Block, name string) hclsyntax.Expression {
	tb.Helper()
	a := b.Body.Attributes[name]
	if a == nil {
		tb.Fatalf("%s %s: no attribute %s", b.Type, strings.Join(b.Labels, "."), name)
	}
	return a.Expr
}

// blocks returns a block's nested blocks of one type.
func blocks(b *hclsyntax.Block, typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, nb := range b.Body.Blocks {
		if nb.Type == typ {
			out = append(out, nb)
		}
	}
	return out
}

// ref is a traversal as written ("aws_sqs_queue.dlq.arn",
// `aws_cloudwatch_log_group.lambda["worker"].arn`), or "" when expr is not
// a plain reference.
func ref(expr hcl.Expression) string {
	t, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok {
		return ""
	}
	return traversalString(t.Traversal)
}

func traversalString(t hcl.Traversal) string {
	var sb strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			sb.WriteString(s.Name)
		case hcl.TraverseAttr:
			sb.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String {
				sb.WriteString(`["` + s.Key.AsString() + `"]`)
			} else if s.Key.Type() == cty.Number {
				sb.WriteString("[" + s.Key.AsBigFloat().Text('f', -1) + "]")
			} else {
				sb.WriteString("[" + s.Key.GoString() + "]")
			}
		}
	}
	return sb.String()
}

// functions are the Terraform functions the checked expressions use.
var functions = map[string]function.Function{
	"jsonencode": stdlib.JSONEncodeFunc,
	"join":       stdlib.JoinFunc,
	"merge":      stdlib.MergeFunc,
	"floor":      stdlib.FloorFunc,
	"format":     stdlib.FormatFunc,
}

// eval evaluates expr as Terraform would before anything exists: var.X is
// vars[X] or its default, local.X is evaluated in turn, and references to
// resources and data are unknown.
func (m *module) eval(tb testing.TB, expr hcl.Expression, vars map[string]cty.Value) cty.Value {
	tb.Helper()
	varVals, localVals := map[string]cty.Value{}, map[string]cty.Value{}
	for name, b := range m.variables {
		varVals[name] = cty.DynamicVal
		if d := b.Body.Attributes["default"]; d != nil {
			v, diags := d.Expr.Value(nil)
			if diags.HasErrors() {
				tb.Fatalf("%s: variable %s: default: %s", m.dir, name, diags.Error())
			}
			varVals[name] = v
		}
	}
	for name, v := range vars {
		varVals[name] = v
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: functions}
	for _, t := range expr.Variables() {
		root := t.RootName()
		switch {
		case root == "local" && len(t) > 1:
			name := t[1].(hcl.TraverseAttr).Name
			if e := m.locals[name]; e != nil {
				localVals[name] = m.eval(tb, e, vars)
			}
		case root != "var":
			ctx.Variables[root] = cty.DynamicVal
		}
	}
	ctx.Variables["var"] = cty.ObjectVal(varVals)
	ctx.Variables["local"] = cty.ObjectVal(localVals)
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		tb.Fatalf("%s: evaluate %s: %s", m.dir, expr.Range(), diags.Error())
	}
	return v
}

// objectItems returns the items of an object written in the module,
// following local.X, merge(...) (later arguments win) and a filtering for
// expression over one ({for k, v in local.env : k => v if v != ""}).
func (m *module) objectItems(tb testing.TB, expr hclsyntax.Expression) map[string]hclsyntax.Expression {
	tb.Helper()
	switch e := expr.(type) {
	case *hclsyntax.ObjectConsExpr:
		items := map[string]hclsyntax.Expression{}
		for _, it := range e.Items {
			k, diags := it.KeyExpr.Value(nil)
			if diags.HasErrors() || k.Type() != cty.String {
				tb.Fatalf("%s: an object key is not a constant string: %s", m.dir, diags.Error())
			}
			items[k.AsString()] = it.ValueExpr
		}
		return items
	case *hclsyntax.ForExpr:
		return m.objectItems(tb, e.CollExpr)
	case *hclsyntax.FunctionCallExpr:
		if e.Name != "merge" {
			break
		}
		items := map[string]hclsyntax.Expression{}
		for _, arg := range e.Args {
			for k, v := range m.objectItems(tb, arg) {
				items[k] = v
			}
		}
		return items
	case *hclsyntax.ScopeTraversalExpr:
		if e.Traversal.RootName() == "local" && len(e.Traversal) == 2 {
			if local := m.locals[e.Traversal[1].(hcl.TraverseAttr).Name]; local != nil {
				return m.objectItems(tb, local)
			}
		}
	}
	tb.Fatalf("%s: cannot read the object at %s statically", m.dir, expr.Range())
	return nil
}

// stringList evaluates expr, with vars, to its known string values: a
// list, tuple or set, or a map (a for_each), whose values it gives.
func (m *module) stringList(tb testing.TB, expr hcl.Expression, vars map[string]cty.Value) []string {
	tb.Helper()
	v := m.eval(tb, expr, vars)
	if !v.IsWhollyKnown() || !v.CanIterateElements() {
		tb.Fatalf("%s: %s is not a known collection of strings", m.dir, expr.Range())
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() != cty.String {
			tb.Fatalf("%s: %s holds a %s, want strings", m.dir, expr.Range(), e.Type().FriendlyName())
		}
		out = append(out, e.AsString())
	}
	return out
}

// sorted returns the keys of a set, sorted.
func sorted[V any](set map[string]V) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// diff says what want lacks and what it has too many of, or "".
func diff(got, want []string) string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	var parts []string
	if missing != nil {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if extra != nil {
		parts = append(parts, "not wanted "+strings.Join(extra, ", "))
	}
	return strings.Join(parts, "; ")
}
