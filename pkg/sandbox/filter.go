package sandbox

import (
	"fmt"
	"strings"
)

// The $filter subset the sandbox understands, on users and group members.
//
//	expr    = and ("or" and)*
//	and     = unary ("and" unary)*
//	unary   = "not" unary | primary
//	primary = "(" expr ")"
//	        | ("startsWith" | "endsWith") "(" operand "," string ")"
//	        | collection "/any(" var ":" expr ")"
//	        | operand ("eq" | "ne") literal
//	        | operand "in" "(" string ("," string)* ")"
//	literal = string | true | false | null
//
// Keywords, functions and property names are case-insensitive; string
// comparison is too, as in Entra. Strings are single-quoted with '' for a
// quote. Operators Entra only offers as advanced queries (ne, not,
// endsWith, comparisons with null) are reported so the caller can insist on
// ConsistencyLevel: eventual and $count=true.

// filterError is a $filter the sandbox refuses, with Graph's code.
type filterError struct{ code, msg string }

func (e *filterError) Error() string { return e.msg }

func unsupportedProp(name string) *filterError {
	return &filterError{"Request_UnsupportedQuery",
		fmt.Sprintf("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", name)}
}

func syntaxError(src string, pos int) *filterError {
	return &filterError{"BadRequest", fmt.Sprintf("Invalid filter clause: Syntax error at position %d in '%s'.", pos, src)}
}

// filter is a parsed $filter.
type filter struct {
	root fnode
	// advanced names the first operator used that needs advanced query
	// parameters; "" when none.
	advanced string
}

func (f *filter) match(u *User) bool { return f == nil || f.root.eval(u, "") }

// fnode is a node of a filter; elem is the current lambda element.
type fnode interface {
	eval(u *User, elem string) bool
}

type orNode struct{ a, b fnode }
type andNode struct{ a, b fnode }
type notNode struct{ x fnode }
type anyNode struct {
	coll func(*User) []string
	body fnode
}
type strNode struct {
	get  func(u *User, elem string) string
	test func(got string) bool
}
type boolNode struct {
	get  func(*User) bool
	want bool
}

func (n orNode) eval(u *User, e string) bool  { return n.a.eval(u, e) || n.b.eval(u, e) }
func (n andNode) eval(u *User, e string) bool { return n.a.eval(u, e) && n.b.eval(u, e) }
func (n notNode) eval(u *User, e string) bool { return !n.x.eval(u, e) }
func (n strNode) eval(u *User, e string) bool { return n.test(n.get(u, e)) }
func (n boolNode) eval(u *User, _ string) bool {
	return n.get(u) == n.want
}
func (n anyNode) eval(u *User, _ string) bool {
	for _, v := range n.coll(u) {
		if n.body.eval(u, v) {
			return true
		}
	}
	return false
}

// Operators a field supports; advanced ones need advanced query parameters.
const (
	opEq = 1 << iota
	opIn
	opStartsWith
	opEndsWith // advanced
)

type ffield struct {
	name string
	ops  int
	str  func(*User) string
	bool func(*User) bool
	coll func(*User) []string
}

var filterFields = map[string]ffield{
	"id":                {name: "id", ops: opEq | opIn, str: func(u *User) string { return u.ID }},
	"mail":              {name: "mail", ops: opEq | opIn | opStartsWith | opEndsWith, str: func(u *User) string { return u.Mail }},
	"userprincipalname": {name: "userPrincipalName", ops: opEq | opIn | opStartsWith | opEndsWith, str: func(u *User) string { return u.UserPrincipalName }},
	"displayname":       {name: "displayName", ops: opEq | opIn | opStartsWith, str: func(u *User) string { return u.DisplayName }},
	"usertype":          {name: "userType", ops: opEq | opIn, str: func(u *User) string { return u.UserType }},
	"externaluserstate": {name: "externalUserState", ops: opEq | opIn, str: func(u *User) string { return u.ExternalUserState }},
	"accountenabled":    {name: "accountEnabled", ops: opEq, bool: func(u *User) bool { return u.AccountEnabled }},
	"othermails":        {name: "otherMails", ops: opEq | opStartsWith | opEndsWith, coll: func(u *User) []string { return u.OtherMails }},
}

// parseFilter parses src.
func parseFilter(src string) (*filter, error) {
	toks, err := lexFilter(src)
	if err != nil {
		return nil, err
	}
	p := &fparser{src: src, toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tkEOF {
		return nil, syntaxError(src, p.peek().pos)
	}
	return &filter{root: root, advanced: p.advanced}, nil
}

type tokKind int

const (
	tkEOF tokKind = iota
	tkWord
	tkString
	tkLParen
	tkRParen
	tkComma
	tkColon
)

type ftoken struct {
	kind tokKind
	text string
	pos  int
}

func lexFilter(src string) ([]ftoken, error) {
	var toks []ftoken
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, ftoken{tkLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, ftoken{tkRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, ftoken{tkComma, ",", i})
			i++
		case c == ':':
			toks = append(toks, ftoken{tkColon, ":", i})
			i++
		case c == '\'':
			start := i
			var b strings.Builder
			i++
			for {
				if i >= len(src) {
					return nil, syntaxError(src, start)
				}
				if src[i] == '\'' {
					if i+1 < len(src) && src[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			toks = append(toks, ftoken{tkString, b.String(), start})
		default:
			start := i
			for i < len(src) && !strings.ContainsRune(" \t\n\r(),:'", rune(src[i])) {
				i++
			}
			toks = append(toks, ftoken{tkWord, src[start:i], start})
		}
	}
	return append(toks, ftoken{kind: tkEOF, pos: len(src)}), nil
}

type fparser struct {
	src       string
	toks      []ftoken
	pos       int
	lambdaVar string
	lambdaOps int
	advanced  string
}

func (p *fparser) peek() ftoken { return p.toks[p.pos] }

func (p *fparser) next() ftoken {
	t := p.toks[p.pos]
	if t.kind != tkEOF {
		p.pos++
	}
	return t
}

func (p *fparser) isWord(w string) bool {
	t := p.peek()
	return t.kind == tkWord && strings.EqualFold(t.text, w)
}

func (p *fparser) expect(k tokKind) (ftoken, error) {
	t := p.next()
	if t.kind != k {
		return t, syntaxError(p.src, t.pos)
	}
	return t, nil
}

func (p *fparser) useAdvanced(op string) {
	if p.advanced == "" {
		p.advanced = op
	}
}

func (p *fparser) or() (fnode, error) {
	l, err := p.and()
	for err == nil && p.isWord("or") {
		p.next()
		var r fnode
		if r, err = p.and(); err == nil {
			l = orNode{l, r}
		}
	}
	return l, err
}

func (p *fparser) and() (fnode, error) {
	l, err := p.unary()
	for err == nil && p.isWord("and") {
		p.next()
		var r fnode
		if r, err = p.unary(); err == nil {
			l = andNode{l, r}
		}
	}
	return l, err
}

func (p *fparser) unary() (fnode, error) {
	if p.isWord("not") {
		p.next()
		p.useAdvanced("not")
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	}
	return p.primary()
}

func (p *fparser) primary() (fnode, error) {
	t := p.next()
	switch t.kind {
	case tkLParen:
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		_, err = p.expect(tkRParen)
		return e, err
	case tkWord:
	default:
		return nil, syntaxError(p.src, t.pos)
	}
	if prop, fn, ok := strings.Cut(t.text, "/"); ok {
		return p.lambda(prop, fn)
	}
	if p.peek().kind == tkLParen {
		return p.function(t)
	}
	return p.comparison(t)
}

// operand resolves a property name, or the lambda variable, to a string
// getter and the operators allowed on it.
func (p *fparser) operand(t ftoken) (get func(*User, string) string, ops int, field ffield, err error) {
	if p.lambdaVar != "" && t.text == p.lambdaVar {
		return func(_ *User, e string) string { return e }, p.lambdaOps, ffield{name: t.text}, nil
	}
	f, ok := filterFields[strings.ToLower(t.text)]
	if !ok || f.coll != nil {
		return nil, 0, f, unsupportedProp(t.text)
	}
	if f.str == nil {
		return nil, f.ops, f, nil
	}
	return func(u *User, _ string) string { return f.str(u) }, f.ops, f, nil
}

func (p *fparser) function(name ftoken) (fnode, error) {
	fn := strings.ToLower(name.text)
	var op int
	switch fn {
	case "startswith":
		op = opStartsWith
	case "endswith":
		op = opEndsWith
	default:
		return nil, &filterError{"Request_UnsupportedQuery", fmt.Sprintf("Unsupported Query. The function '%s' is not supported.", name.text)}
	}
	p.next() // (
	arg, err := p.expect(tkWord)
	if err != nil {
		return nil, err
	}
	get, ops, f, err := p.operand(arg)
	if err != nil {
		return nil, err
	}
	if get == nil || ops&op == 0 {
		return nil, unsupportedProp(f.name)
	}
	if _, err := p.expect(tkComma); err != nil {
		return nil, err
	}
	lit, err := p.expect(tkString)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tkRParen); err != nil {
		return nil, err
	}
	v := strings.ToLower(lit.text)
	if op == opEndsWith {
		p.useAdvanced("endsWith")
		return strNode{get, func(s string) bool { return strings.HasSuffix(strings.ToLower(s), v) }}, nil
	}
	return strNode{get, func(s string) bool { return strings.HasPrefix(strings.ToLower(s), v) }}, nil
}

func (p *fparser) lambda(prop, fn string) (fnode, error) {
	f, ok := filterFields[strings.ToLower(prop)]
	if !ok || f.coll == nil || p.lambdaVar != "" {
		return nil, unsupportedProp(prop)
	}
	if !strings.EqualFold(fn, "any") {
		return nil, &filterError{"Request_UnsupportedQuery", fmt.Sprintf("Unsupported Query. The lambda operator '%s' is not supported on property '%s'.", fn, f.name)}
	}
	if _, err := p.expect(tkLParen); err != nil {
		return nil, err
	}
	v, err := p.expect(tkWord)
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tkColon); err != nil {
		return nil, err
	}
	p.lambdaVar, p.lambdaOps = v.text, f.ops
	body, err := p.or()
	p.lambdaVar = ""
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tkRParen); err != nil {
		return nil, err
	}
	return anyNode{coll: f.coll, body: body}, nil
}

func (p *fparser) comparison(name ftoken) (fnode, error) {
	get, ops, f, err := p.operand(name)
	if err != nil {
		return nil, err
	}
	opTok := p.next()
	if opTok.kind != tkWord {
		return nil, syntaxError(p.src, opTok.pos)
	}
	op := strings.ToLower(opTok.text)
	switch op {
	case "in":
		if get == nil || ops&opIn == 0 {
			return nil, unsupportedProp(f.name)
		}
		return p.inList(get)
	case "eq", "ne":
	case "gt", "ge", "lt", "le":
		return nil, unsupportedProp(f.name)
	default:
		return nil, syntaxError(p.src, opTok.pos)
	}
	if ops&opEq == 0 {
		return nil, unsupportedProp(f.name)
	}
	if op == "ne" {
		p.useAdvanced("ne")
	}
	lit := p.next()
	var n fnode
	switch {
	case lit.kind == tkWord && strings.EqualFold(lit.text, "null"):
		p.useAdvanced("null")
		if get == nil {
			return nil, unsupportedProp(f.name)
		}
		n = strNode{get, func(s string) bool { return s == "" }}
	case lit.kind == tkWord && (strings.EqualFold(lit.text, "true") || strings.EqualFold(lit.text, "false")):
		if f.bool == nil {
			return nil, incompatible("Edm.String", "Edm.Boolean")
		}
		n = boolNode{f.bool, strings.EqualFold(lit.text, "true")}
	case lit.kind == tkString:
		if get == nil {
			return nil, incompatible("Edm.Boolean", "Edm.String")
		}
		want := lit.text
		n = strNode{get, func(s string) bool { return strings.EqualFold(s, want) }}
	default:
		return nil, syntaxError(p.src, lit.pos)
	}
	if op == "ne" {
		return notNode{n}, nil
	}
	return n, nil
}

func (p *fparser) inList(get func(*User, string) string) (fnode, error) {
	if _, err := p.expect(tkLParen); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for {
		s, err := p.expect(tkString)
		if err != nil {
			return nil, err
		}
		set[strings.ToLower(s.text)] = true
		t := p.next()
		if t.kind == tkRParen {
			break
		}
		if t.kind != tkComma {
			return nil, syntaxError(p.src, t.pos)
		}
	}
	return strNode{get, func(s string) bool { return set[strings.ToLower(s)] }}, nil
}

func incompatible(left, right string) *filterError {
	return &filterError{"BadRequest", fmt.Sprintf("A binary operator with incompatible types was detected. Found operand types '%s' and '%s' for operator kind 'Equal'.", left, right)}
}
