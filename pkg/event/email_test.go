package event_test

import (
	"testing"

	"github.com/stintdev/stint/pkg/event"
)

// withContractorEmail is the started sample with the contractor's email
// replaced.
func withContractorEmail(tb testing.TB, email string) []byte {
	tb.Helper()
	return edit(tb, "valid/started.json", func(m map[string]any) {
		data(m)["contractor"].(map[string]any)["email"] = email
	})
}

func TestParseAcceptsPlainASCIIAddresses(t *testing.T) {
	for _, email := range []string{
		"ana@partner.example",
		"Bo.Chen@Vendor.example",
		"o'brien+stint@corp.example",
		"a!#$%&'*+/=?^_`{|}~-z@corp.example",
		"ana@mail-1.partner.example",
		"ana@1.partner.xn--p1ai",
	} {
		t.Run(email, func(t *testing.T) {
			ev, err := event.Parse(withContractorEmail(t, email))
			if err != nil {
				t.Fatalf("Parse = %v, want no error", err)
			}
			if got := ev.Data.Contractor.Email; got != email {
				t.Errorf("Email = %q, want %q", got, email)
			}
		})
	}
}

func TestParseRefusesEmailTricks(t *testing.T) {
	const (
		notASCII = ", which is not ASCII: Entra builds the guest's user principal name from the address and accepts only ASCII, and a non-ASCII letter can fold into another address (the Kelvin sign U+212A lower-cases to k)"
		local    = " has a local part that is not a dot-atom: want letters, digits and !#$%&'*+/=?^_`{|}~- in runs separated by single dots"
		domain   = " has a domain that is not a host name: want dot-separated labels of letters, digits and inner hyphens (at most 63 each), the last beginning with a letter"
	)
	tests := []struct {
		name, email, want string
	}{
		{"Kelvin sign", "ana\u212a@partner.example", `"ana\u212a@partner.example" holds U+212A` + notASCII},
		{"non-ASCII domain", "ana@b\u00fccher.example", `"ana@b\u00fccher.example" holds U+00FC` + notASCII},
		{"address literal", "eve@[127.0.0.1]", `"eve@[127.0.0.1]" has an address literal for a domain; want a domain name, as in ana@partner.example`},
		{"IPv4 address as domain", "eve@127.0.0.1", `"eve@127.0.0.1"` + domain},
		{"quoted local part", `"eve"@partner.example`, `"\"eve\"@partner.example" has a quoted local part; want a plain one, as in ana.lima@partner.example`},
		{"comment", "eve(x)@partner.example", `"eve(x)@partner.example"` + local},
		{"two dots", "ana..lima@partner.example", `"ana..lima@partner.example"` + local},
		{"leading dot", ".ana@partner.example", `".ana@partner.example"` + local},
		{"trailing dot in local part", "ana.@partner.example", `"ana.@partner.example"` + local},
		{"empty label", "ana@partner..example", `"ana@partner..example"` + domain},
		{"trailing dot in domain", "ana@partner.example.", `"ana@partner.example."` + domain},
		{"label starting with a hyphen", "ana@-partner.example", `"ana@-partner.example"` + domain},
		{"label ending with a hyphen", "ana@partner-.example", `"ana@partner-.example"` + domain},
		{"label of 64 characters", "ana@" + string64 + ".example", `"ana@` + string64 + `.example"` + domain},
		{"underscore in domain", "ana@part_ner.example", `"ana@part_ner.example"` + domain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := event.Parse(withContractorEmail(t, tt.email))
			want := "invalid event: /data/contractor/email: " + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("Parse error =\n  %v\nwant\n  %s", err, want)
			}
		})
	}
}

const string64 = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl"

// The sponsor's email is held to the same rules.
func TestParseRefusesSponsorEmailLiteral(t *testing.T) {
	body := edit(t, "valid/started.json", func(m map[string]any) {
		data(m)["sponsor"].(map[string]any)["email"] = "boss@[10.0.0.1]"
	})
	_, err := event.Parse(body)
	want := `invalid event: /data/sponsor/email: "boss@[10.0.0.1]" has an address literal for a domain; want a domain name, as in ana@partner.example`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v, want %s", err, want)
	}
}
