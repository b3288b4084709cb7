package postgres

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/jackc/pgx/v5"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

// EntraScope is the scope of the access tokens that Azure Database for
// PostgreSQL accepts as passwords.
const EntraScope = "https://ossrdbms-aad.database.windows.net/.default"

// AuthParam is the URL query parameter that asks for password-less
// authentication: azure=entra. It is stint's, not PostgreSQL's, and is
// removed before the URL reaches the driver (which would send an unknown
// parameter to the server as a run-time setting).
const AuthParam = "azure"

// Option configures Open.
type Option func(*options)

type options struct {
	cred azcore.TokenCredential
}

// WithCredential sets the credential that azure=entra takes its tokens
// from, instead of azidentity's DefaultAzureCredential.
func WithCredential(cred azcore.TokenCredential) Option {
	return func(o *options) { o.cred = cred }
}

// target is a parsed ledger URL: pgx's configuration and whether its
// password comes from Entra ID.
type target struct {
	config *pgx.ConnConfig
	entra  bool
	shown  string // the URL with its password masked, for messages
}

// parse reads a postgres:// or postgresql:// URL. Nothing it returns, error
// or shown, holds the URL's password.
func parse(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, and its cause may quote a piece of it
		// (a bad %-escape in the password): neither is shown.
		return target{}, fault.Errorf(fault.Invalid, "postgres ledger: the URL does not parse (it is not shown, as it may hold a password): "+
			"percent-encode the characters @ : / ? # %% in its user name and password")
	}
	t := target{shown: config.Redacted(raw)}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return t, fault.Errorf(fault.Invalid, "postgres ledger %s: want a postgres:// or postgresql:// URL", t.shown)
	}
	q := u.Query()
	switch mode := q.Get(AuthParam); mode {
	case "":
	case "entra":
		t.entra = true
	default:
		return t, fault.Errorf(fault.Invalid, "postgres ledger %s: %s=%q is not known: want %s=entra (an Entra ID access token as the password) or no %s parameter",
			t.shown, AuthParam, mode, AuthParam, AuthParam)
	}
	q.Del(AuthParam)
	if t.entra {
		if _, set := u.User.Password(); set || q.Has("password") {
			return t, fault.Errorf(fault.Invalid, "postgres ledger %s: %s=entra takes the password from Entra ID, yet the URL holds one too: remove the password from the URL",
				t.shown, AuthParam)
		}
		if !q.Has("sslmode") {
			q.Set("sslmode", "verify-full") // the token must go to the server it is for, encrypted
		}
	}
	u.RawQuery = q.Encode()
	t.config, err = pgx.ParseConfig(u.String())
	if err != nil {
		// pgx masks the password of a URL that parses, as this one did.
		return t, fault.Errorf(fault.Invalid, "postgres ledger: %s", err.Error())
	}
	if t.entra {
		if host := plaintextHost(t.config); host != "" {
			return t, fault.Errorf(fault.Invalid, "postgres ledger %s: %s=entra sends an access token as the password, which sslmode=%s would let go to %s unencrypted: "+
				"use sslmode=verify-full (the default with %s=entra) or require",
				t.shown, AuthParam, q.Get("sslmode"), host, AuthParam)
		}
	}
	return t, nil
}

// plaintextHost returns a host that config may reach without TLS, other
// than this machine (a loopback address, localhost or a Unix socket), or ""
// if there is none. sslmode disable, allow and prefer make such attempts.
func plaintextHost(config *pgx.ConnConfig) string {
	if config.TLSConfig == nil && !local(config.Host) {
		return config.Host
	}
	for _, f := range config.Fallbacks {
		if f.TLSConfig == nil && !local(f.Host) {
			return f.Host
		}
	}
	return ""
}

func local(host string) bool {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// entraPassword returns pgx's BeforeConnect hook that sets each new
// connection's password to an access token from cred. The token is asked
// for every time and never kept: the credential caches it and gets a new
// one before it expires, so a connection opened late still gets a valid one.
func entraPassword(cred azcore.TokenCredential) func(context.Context, *pgx.ConnConfig) error {
	return func(ctx context.Context, c *pgx.ConnConfig) error {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{EntraScope}})
		if err != nil {
			return fmt.Errorf("get an Entra ID access token for %s (user %s): %w", EntraScope, c.User, err)
		}
		c.Password = tok.Token
		return nil
	}
}
