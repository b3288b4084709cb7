package event

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// duplicateMember returns the JSON pointer of the first member, in document
// order, whose object already holds a member of that name, and false when no
// object names a member twice.
//
// encoding/json keeps the last of two such members without a word, while
// another reader of the same bytes may keep the first, so the event one
// system checked would not be the one another acts on. Names are compared as
// encoding/json decodes them, so "type" and "\u0074ype" are one name, and so
// are two invalid UTF-8 spellings that both decode to U+FFFD.
//
// body must already have decoded as one JSON value: the scan skips strings,
// numbers and literals without checking them, which keeps it several times
// cheaper than json.Decoder.Token (see BenchmarkParse).
func duplicateMember(body []byte) (string, bool) {
	s := scanner{s: string(body)}
	path, found := s.value()
	if !found {
		return "", false
	}
	var b strings.Builder
	for i := len(path) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(path[i])
	}
	return b.String(), true
}

// scanner walks one JSON value that is known to be valid. On input that is
// not, it stops early rather than panic or loop.
type scanner struct {
	s string
	i int
}

// value reads one value. When it holds a duplicate member, value returns that
// member's pointer segments innermost first, so that a path is built only
// for the one found.
func (s *scanner) value() ([]string, bool) {
	s.space()
	switch s.peek() {
	case '{':
		return s.object()
	case '[':
		return s.array()
	case '"':
		s.str()
	default:
		s.literal()
	}
	return nil, false
}

func (s *scanner) object() ([]string, bool) {
	s.i++ // '{'
	var seen names
	for {
		s.space()
		if s.peek() == ',' {
			s.i++
			s.space()
		}
		if s.peek() != '"' {
			s.i++ // '}' (or the end of input that is not JSON)
			return nil, false
		}
		name := s.str()
		s.space()
		s.i++ // ':'
		if !seen.add(name) {
			return []string{pointerSegment(name)}, true
		}
		if path, found := s.value(); found {
			return append(path, pointerSegment(name)), true
		}
	}
}

func (s *scanner) array() ([]string, bool) {
	s.i++ // '['
	for n := 0; ; n++ {
		s.space()
		if s.peek() == ',' {
			s.i++
			s.space()
		}
		switch s.peek() {
		case ']', '}', ':', 0:
			s.i++
			return nil, false
		}
		if path, found := s.value(); found {
			return append(path, strconv.Itoa(n)), true
		}
	}
}

// str reads a string and returns it decoded as encoding/json would.
func (s *scanner) str() string {
	start := s.i
	s.i++ // '"'
	plain := true
	for s.i < len(s.s) {
		switch s.s[s.i] {
		case '\\':
			plain = false
			s.i += 2
			continue
		case '"':
			s.i++
			raw := s.s[start:s.i]
			if plain && utf8.ValidString(raw) {
				return raw[1 : len(raw)-1]
			}
			var out string
			json.Unmarshal([]byte(raw), &out) // valid: the body decoded already
			return out
		}
		s.i++
	}
	return ""
}

// literal skips a number, true, false or null; it always advances, so that
// a scan of input that is not JSON ends.
func (s *scanner) literal() {
	s.i++
	for s.i < len(s.s) {
		switch s.s[s.i] {
		case ',', ']', '}', ':', ' ', '\t', '\r', '\n':
			return
		}
		s.i++
	}
}

// space skips JSON's whitespace.
func (s *scanner) space() {
	for s.i < len(s.s) {
		switch s.s[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte, or 0 at the end of the input.
func (s *scanner) peek() byte {
	if s.i < len(s.s) {
		return s.s[s.i]
	}
	return 0
}

// names is the set of member names of one object: a few on the stack, the
// rest of a large object in a map.
type names struct {
	few  [16]string
	n    int
	many map[string]struct{}
}

// add adds name and reports whether it was new.
func (ns *names) add(name string) bool {
	for _, seen := range ns.few[:ns.n] {
		if seen == name {
			return false
		}
	}
	if ns.n < len(ns.few) {
		ns.few[ns.n] = name
		ns.n++
		return true
	}
	if _, seen := ns.many[name]; seen {
		return false
	}
	if ns.many == nil {
		ns.many = make(map[string]struct{})
	}
	ns.many[name] = struct{}{}
	return true
}

// pointerSegment escapes a member name for a JSON pointer (RFC 6901).
func pointerSegment(name string) string {
	name = strings.ReplaceAll(name, "~", "~0")
	return strings.ReplaceAll(name, "/", "~1")
}
