package webhook

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxLogged is how many characters of a value the sender controls reach the
// log. The webhook-id is logged before the signature is checked, so anyone
// who can reach the endpoint chooses it: uncapped, five requests with a
// 900 KB header added 4.5 MB to the log.
const maxLogged = 64

// clip makes a value the sender controls fit for a log line: non-printable
// characters, invalid UTF-8 and backslashes escaped the way Go quotes them
// (so a terminal escape or a line break cannot forge log output, and an
// escape in the value cannot pass for one of ours), at most maxLogged
// characters of the escaped form, and a marker with the full length when it
// was cut.
func clip(s string) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		piece := escape(s[i:], r)
		count := utf8.RuneCountInString(piece)
		if n+count > maxLogged {
			fmt.Fprintf(&b, "…(cut, %d bytes)", len(s))
			break
		}
		b.WriteString(piece)
		n += count
	}
	return b.String()
}

// escape returns r, which starts rest, as it should appear in the log.
func escape(rest string, r rune) string {
	switch {
	case r == utf8.RuneError && !strings.HasPrefix(rest, string(utf8.RuneError)):
		return fmt.Sprintf(`\x%02x`, rest[0]) // a byte that is not UTF-8
	case r != '\\' && unicode.IsPrint(r):
		return string(r)
	}
	q := strconv.QuoteRune(r)
	return q[1 : len(q)-1]
}
