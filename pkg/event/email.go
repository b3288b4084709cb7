package event

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// An address is a plain ASCII addr-spec (RFC 5322 section 3.4.1) without its
// obsolete and rarely used forms: a dot-atom local part (no quoted string, no
// comment) and a domain name (no address literal such as [127.0.0.1]).
//
// ASCII only, because Entra builds a guest's user principal name from the
// address and accepts only ASCII there, and because a non-ASCII letter can
// lower-case into an ASCII one (the Kelvin sign U+212A becomes "k"), which
// would give two addresses one contractor key.
//
// A domain is dot-separated labels of letters, digits and inner hyphens, at
// most 63 characters each (RFC 1123 section 2.1), the last beginning with a
// letter, as every top-level domain does (RFC 3696 section 2), so that an IP
// address is no domain.
const (
	emailLocal  = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
	emailDomain = `([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?`
)

var (
	// emailRe is the rule, and the schema's pattern. An address it refuses
	// is examined further only to say why: emailShapeRe is the rough shape of
	// an address, refused with a plain "not an email address", and
	// emailLocalRe tells a bad local part from a bad domain.
	emailRe      = regexp.MustCompile("^" + emailLocal + "@" + emailDomain + "$")
	emailShapeRe = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	emailLocalRe = regexp.MustCompile("^" + emailLocal + "$")
)

// emailProblem says why s is not an address stint accepts, or returns "".
// The tricks get a reason of their own; anything else of the wrong shape
// gets "not an email address".
func emailProblem(s string) string {
	if emailRe.MatchString(s) {
		return ""
	}
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return fmt.Sprintf("%+q holds %U, which is not ASCII: Entra builds the guest's user principal name from the address and accepts only ASCII, and a non-ASCII letter can fold into another address (the Kelvin sign U+212A lower-cases to k)", s, r)
		}
	}
	local, domain, found := cutLast(s, "@")
	switch {
	case found && strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]"):
		return fmt.Sprintf("%q has an address literal for a domain; want a domain name, as in ana@partner.example", s)
	case found && strings.HasPrefix(local, `"`):
		return fmt.Sprintf("%q has a quoted local part; want a plain one, as in ana.lima@partner.example", s)
	case !emailShapeRe.MatchString(s):
		return fmt.Sprintf("%q is not an email address (want local@domain.tld)", s)
	case !emailLocalRe.MatchString(local):
		return fmt.Sprintf("%q has a local part that is not a dot-atom: want letters, digits and !#$%%&'*+/=?^_`{|}~- in runs separated by single dots", s)
	}
	return fmt.Sprintf("%q has a domain that is not a host name: want dot-separated labels of letters, digits and inner hyphens (at most 63 each), the last beginning with a letter", s)
}

// cutLast is strings.Cut at the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
