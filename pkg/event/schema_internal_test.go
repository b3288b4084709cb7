package event

import (
	"encoding/json"
	"os"
	"regexp"
	"testing"
	"unicode"
	"unicode/utf8"
)

// The schema's patterns are the parser's, character for character, so the
// two cannot drift apart.
func TestSchemaPatternsMatchParser(t *testing.T) {
	raw, err := os.ReadFile("../../events/schema/engagement-event.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		def, want string
	}{
		{"email", emailRe.String()},
		{"token", "^[^" + tokenForbidden + "]+$"},
	}
	for _, tt := range tests {
		t.Run(tt.def, func(t *testing.T) {
			if got := schema.Defs[tt.def].Pattern; got != tt.want {
				t.Errorf("$defs.%s.pattern =\n  %s\nwant\n  %s", tt.def, got, tt.want)
			}
		})
	}
}

// The schema's token pattern, as Go's regexp reads it (the engine of the
// schema tests), refuses exactly the runes the parser refuses.
func TestTokenPatternMatchesBadTokenRune(t *testing.T) {
	allowed := regexp.MustCompile("^[^" + tokenForbidden + "]+$")
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		if got, want := allowed.MatchString(string(r)), !badTokenRune(r); got != want {
			t.Errorf("pattern matches %U = %v, want %v", r, got, want)
		}
	}
}
