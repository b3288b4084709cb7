package event

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenForbidden lists, as a regular expression character class body, the
// characters an id or a source may not hold: whitespace and control
// characters, that is JavaScript's \s (Unicode White_Space and U+FEFF) and
// Unicode's Cc. It is spelled out because \s means less in Go's regexp
// (ASCII only) than in JSON Schema's; the schema's token pattern is
// "^[^" + tokenForbidden + "]+$", and a test holds it to badTokenRune for
// every rune.
const tokenForbidden = "\x00-\x20\x7f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

// badTokenRune reports whether r is whitespace or a control character.
func badTokenRune(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\ufeff'
}

// token reads a required, non-empty string that holds no whitespace or
// control character. why ends the reason when it does.
func (o object) token(name string, maxLen int, why string) (string, error) {
	s, err := o.nonEmpty(name, maxLen)
	if err != nil {
		return "", err
	}
	if i := strings.IndexFunc(s, badTokenRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return "", &Error{o.at(name), fmt.Sprintf("must not hold whitespace or control characters, found %U in %q: %s", r, s, why), nil}
	}
	return s, nil
}
