package config

import (
	"fmt"
	"strings"
)

// Markdown is the reference table of every setting, for the README: name,
// default, which binaries read it, and what it means.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| variable | default | read by | meaning |\n|---|---|---|---|\n")
	for _, s := range Settings {
		def := "—"
		if s.Default != "" {
			def = "`" + s.Default + "`"
		}
		by := make([]string, len(s.ReadBy))
		for i, r := range s.ReadBy {
			by[i] = string(r)
		}
		doc := s.Doc
		if s.Secret {
			doc += " Secret: never printed."
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", s.Name, def, strings.Join(by, ", "), doc)
	}
	return b.String()
}
