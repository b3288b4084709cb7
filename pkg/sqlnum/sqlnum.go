// Package sqlnum rewrites a query's ? placeholders as PostgreSQL's numbered
// ones, so that stint's SQL is written once for SQLite and PostgreSQL.
package sqlnum

import (
	"strconv"
	"strings"
)

// Numbered is query with each ? replaced by $1, $2, … in order. The query
// must hold no ? other than placeholders (none inside a string literal).
func Numbered(query string) string {
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
