package postgres

import (
	"strings"
	"testing"

	"github.com/stintdev/stint/pkg/fault"
)

// secret is the password in the URLs below; no error may show it.
const secret = "s3cr%25t-hunter2"

// URLs that parse into a configuration, and what it must hold.
func TestParseAcceptsAndConfigures(t *testing.T) {
	tests := []struct {
		name  string
		url   string
		entra bool
		tls   bool // every attempt is encrypted and verified
	}{
		{"a password in the URL", "postgres://stint:" + secret + "@db.example.com/stint?sslmode=verify-full", false, true},
		{"postgresql scheme", "postgresql://stint@db.example.com/stint?sslmode=disable", false, false},
		{"entra defaults to verify-full", "postgres://stint-app@db.example.com/stint?azure=entra", true, true},
		{"entra, explicit verify-full", "postgres://stint-app@db.example.com/stint?azure=entra&sslmode=verify-full", true, true},
		{"entra without TLS on loopback", "postgres://stint-app@127.0.0.1:5432/stint?azure=entra&sslmode=disable", true, false},
		{"entra without TLS on localhost", "postgres://stint-app@localhost/stint?azure=entra&sslmode=prefer", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parse(tt.url)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got.entra != tt.entra {
				t.Errorf("entra = %v, want %v", got.entra, tt.entra)
			}
			if _, sent := got.config.RuntimeParams[AuthParam]; sent {
				t.Errorf("RuntimeParams = %v: %s would be sent to the server", got.config.RuntimeParams, AuthParam)
			}
			verified := got.config.TLSConfig != nil && !got.config.TLSConfig.InsecureSkipVerify && len(got.config.Fallbacks) == 0
			if verified != tt.tls {
				t.Errorf("verified TLS only = %v, want %v", verified, tt.tls)
			}
			if strings.Contains(got.shown, secret) {
				t.Errorf("shown = %s, holds the password", got.shown)
			}
		})
	}
}

// URLs that are refused, each with a message that says why and never
// shows the password.
func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"entra with a password in the user information", "postgres://stint-app:" + secret + "@db.example.com/stint?azure=entra",
			"azure=entra takes the password from Entra ID, yet the URL holds one too: remove the password from the URL"},
		{"entra with a password parameter", "postgres://stint-app@db.example.com/stint?azure=entra&password=" + secret,
			"azure=entra takes the password from Entra ID, yet the URL holds one too"},
		{"entra with sslmode=disable to a remote host", "postgres://stint-app@db.example.com/stint?azure=entra&sslmode=disable",
			"sslmode=disable would let go to db.example.com unencrypted"},
		{"entra with sslmode=prefer to a remote host", "postgres://stint-app@db.example.com/stint?azure=entra&sslmode=prefer",
			"sslmode=prefer would let go to db.example.com unencrypted"},
		{"an unknown azure mode", "postgres://stint:" + secret + "@db.example.com/stint?azure=kerberos",
			`azure="kerberos" is not known: want azure=entra`},
		{"another scheme", "mysql://stint:" + secret + "@db.example.com/stint", "want a postgres:// or postgresql:// URL"},
		{"a URL that does not parse", "postgres://stint:s3cr%zz-hunter2@db.example.com/stint",
			"the URL does not parse (it is not shown, as it may hold a password)"},
		{"a setting pgx refuses", "postgres://stint:" + secret + "@db.example.com/stint?sslmode=sometimes", "sslmode is invalid"},
		{"a bad port", "postgres://stint:" + secret + "@db.example.com:99999/stint", "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(tt.url)
			if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("parse error = %v, want invalid, saying %q", err, tt.want)
			}
			for _, s := range []string{secret, "s3cr%t", "hunter2", "%zz"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows the password (%q)", err, s)
				}
			}
		})
	}
}
