package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/fault"
)

// Config is every setting a binary reads, parsed and checked.
type Config struct {
	Tenant Tenant
	// GraphEndpoint is the Graph root, without /v1.0.
	GraphEndpoint string
	// Groups is the allow-list, access key to group object id; nil when
	// STINT_GROUPS is unset.
	Groups map[string]string
	// DefaultAccess is checked against Groups when both are known.
	DefaultAccess []string
	Store         string
	WebhookSecret string
	// WebhookSecretARN names the Secrets Manager secret holding the
	// webhook secret, which the webhook function reads at cold start.
	WebhookSecretARN string
	QueueURL         string
	// ServiceBusConnection is a Service Bus connection string (secret).
	ServiceBusConnection string
	DLQURL               string
	SendInvitation       bool
	RedirectURL          string
	GhostGrace           time.Duration
	// GhostReport leaves ghosts in place (STINT_GHOST_ACTION=report).
	GhostReport     bool
	UnredeemedAfter time.Duration
	Data            string
	// DormantAfter and DormantEnd: STINT_DORMANT_AFTER, STINT_DORMANT_ACTION=end.
	DormantAfter time.Duration
	DormantEnd   bool
	// VerifyWindow is STINT_VERIFY_WINDOW.
	VerifyWindow time.Duration
	// RemindBefore are STINT_REMIND_BEFORE's thresholds, longest first.
	RemindBefore []time.Duration
	// Notify is where notifications go; its URL is "" when none are sent.
	Notify Notify
	// Policies fills the Conditional Access policies stint manages.
	Policies Policies
	// Values are the settings the binary read, with where each came from.
	Values []Value
}

// SourceOf says where a setting's value came from (Unset for one the
// binary does not read).
func (c Config) SourceOf(name string) Source {
	for _, v := range c.Values {
		if v.Name == name {
			return v.Source
		}
	}
	return Unset
}

// Tenant is where and who the runtime app is in Entra (azidentity's
// standard variables).
type Tenant struct {
	ID                  string
	ClientID            string
	ClientSecret        string
	CertificatePath     string
	CertificatePassword string
	FederatedTokenFile  string
	// Federation is STINT_AZURE_FEDERATION: FederationAWS,
	// FederationManagedIdentity, or "" for the credential the other
	// variables choose.
	Federation string
	// ManagedIdentityClientID is STINT_MANAGED_IDENTITY_CLIENT_ID: the
	// user-assigned identity FederationManagedIdentity uses ("" for the
	// system-assigned one).
	ManagedIdentityClientID string
	// AuthorityHost is the token service; "" for Microsoft's global one.
	AuthorityHost string
}

// FederationAWS is STINT_AZURE_FEDERATION=aws: the assertion comes from
// AWS STS GetWebIdentityToken.
const FederationAWS = "aws"

// FederationManagedIdentity is STINT_AZURE_FEDERATION=managed-identity: the
// assertion is the host's managed identity's token (Azure), and Azure
// resources are reached as that identity.
const FederationManagedIdentity = "managed-identity"

// Configured reports whether a tenant is named at all.
func (t Tenant) Configured() bool { return t.ID != "" }

// Notify is STINT_NOTIFY_URL, STINT_NOTIFY_FORMAT and STINT_NOTIFY_SECRET.
type Notify struct {
	URL    string
	Format string
	Secret string
}

// The notification formats.
const (
	NotifyCloudEvents = "cloudevents"
	NotifyTeams       = "teams"
	NotifySlack       = "slack"
)

// Source says where a value came from.
type Source string

// The sources.
const (
	FromEnvironment Source = "environment"
	FromDefault     Source = "default"
	Unset           Source = "unset"
)

// Value is one setting as loaded.
type Value struct {
	Setting
	Value  string
	Source Source
}

// Shown is the value as it may be printed: a secret is masked, and so is
// a password in a URL (STINT_STORE=postgres://user:password@host/db).
func (v Value) Shown() string {
	switch {
	case v.Source == Unset:
		return ""
	case v.Secret:
		return "********"
	}
	return Redacted(v.Value)
}

// Redacted is s with the passwords of a URL masked: the one in its user
// information, and the password and sslpassword parameters (PostgreSQL's).
// What is not a URL with a password comes back as it is.
func Redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return s
	}
	_, masked := u.User.Password()
	q := u.Query()
	for _, k := range []string{"password", "sslpassword"} {
		if q.Has(k) {
			q.Set(k, "xxxxx")
			u.RawQuery, masked = q.Encode(), true
		}
	}
	if !masked {
		return s
	}
	return u.Redacted()
}

// Lookup reads one variable: os.LookupEnv in the mains, a map in tests.
type Lookup func(name string) (string, bool)

// Load reads every setting b reads, checks each, and returns them all at
// once: every problem is reported, one line each (joined), not one per
// restart. Each error names the variable, what is wrong and what to write.
func Load(b Binary, lookup Lookup) (Config, error) {
	l := &loader{lookup: lookup}
	var c Config
	for _, s := range ReadBy(b) {
		l.read(s)
	}
	c.Tenant = Tenant{ID: l.str("AZURE_TENANT_ID"), ClientID: l.str("AZURE_CLIENT_ID"), ClientSecret: l.str("AZURE_CLIENT_SECRET"),
		CertificatePath: l.str("AZURE_CLIENT_CERTIFICATE_PATH"), CertificatePassword: l.str("AZURE_CLIENT_CERTIFICATE_PASSWORD"),
		FederatedTokenFile: l.str("AZURE_FEDERATED_TOKEN_FILE"), AuthorityHost: l.str("AZURE_AUTHORITY_HOST"),
		Federation: l.oneOf("STINT_AZURE_FEDERATION", federations(b)...), ManagedIdentityClientID: l.str("STINT_MANAGED_IDENTITY_CLIENT_ID")}
	l.check(c.Tenant.Check())
	c.GraphEndpoint = l.str("STINT_GRAPH_ENDPOINT")
	if l.has("STINT_GRAPH_ENDPOINT") {
		l.check(CheckEndpoint(c.GraphEndpoint))
	}
	if raw := l.str("STINT_GROUPS"); raw != "" {
		var err error
		c.Groups, err = ParseGroups(raw)
		l.check(err)
	}
	if l.has("STINT_DEFAULT_ACCESS") {
		c.DefaultAccess = splitList(l.str("STINT_DEFAULT_ACCESS"))
		if c.Groups != nil {
			l.check(CheckDefaultAccess(c.DefaultAccess, c.Groups))
		}
	}
	c.Store, c.WebhookSecret = l.str("STINT_STORE"), l.str("STINT_WEBHOOK_SECRET")
	c.WebhookSecretARN = l.str("STINT_WEBHOOK_SECRET_ARN")
	if b == Webhook {
		l.check(checkWebhookSecret(c.WebhookSecret, c.WebhookSecretARN))
	}
	c.QueueURL, c.DLQURL = l.str("STINT_QUEUE_URL"), l.str("STINT_DLQ_URL")
	c.ServiceBusConnection = l.str("STINT_SERVICEBUS_CONNECTION")
	c.SendInvitation = l.boolean("STINT_SEND_INVITATION")
	c.RedirectURL = l.https("STINT_INVITE_REDIRECT_URL")
	c.GhostGrace = l.duration("STINT_GHOST_GRACE")
	c.UnredeemedAfter = l.duration("STINT_UNREDEEMED_AFTER")
	c.GhostReport = l.oneOf("STINT_GHOST_ACTION", "remove", "report") == "report"
	c.Data = l.str("STINT_DATA")
	c.DormantAfter = l.duration("STINT_DORMANT_AFTER")
	c.DormantEnd = l.oneOf("STINT_DORMANT_ACTION", "report", "end") == "end"
	c.VerifyWindow = l.duration("STINT_VERIFY_WINDOW")
	c.RemindBefore = l.thresholds("STINT_REMIND_BEFORE")
	c.Notify = l.notify()
	c.Policies = l.policies()
	for _, name := range required[b] {
		if l.str(name) == "" {
			s := setting(name)
			l.check(fault.Errorf(fault.Invalid, "%s is not set: %s", name, s.Doc))
		}
	}
	c.Values = l.values
	return c, errors.Join(l.errs...)
}

// required lists what each binary cannot start without; the stint command
// decides per command (a sandbox needs no tenant).
var required = map[Binary][]string{
	Webhook: {"STINT_QUEUE_URL"}, // and one webhook secret: checkWebhookSecret
	Worker:  {"STINT_GROUPS", "STINT_STORE", "STINT_DLQ_URL"},
	Sweep:   {"STINT_GROUPS", "STINT_STORE"},
}

// checkWebhookSecret wants exactly one of the webhook function's two ways
// to get its secret, and an ARN that names a Secrets Manager secret.
func checkWebhookSecret(secret, arn string) error {
	switch {
	case secret != "" && arn != "":
		return fault.Errorf(fault.Invalid, "STINT_WEBHOOK_SECRET and STINT_WEBHOOK_SECRET_ARN are both set: keep only STINT_WEBHOOK_SECRET_ARN, so that the secret stays in Secrets Manager, not in the function's environment")
	case secret == "" && arn == "":
		return fault.Errorf(fault.Invalid, "neither STINT_WEBHOOK_SECRET_ARN nor STINT_WEBHOOK_SECRET is set: set STINT_WEBHOOK_SECRET_ARN to the ARN of the Secrets Manager secret holding the webhook secret (whsec_…)")
	case arn != "" && !webhookSecretARN.MatchString(arn):
		return fault.Errorf(fault.Invalid, "STINT_WEBHOOK_SECRET_ARN %q: want a Secrets Manager secret's ARN, like arn:aws:secretsmanager:eu-west-1:123456789012:secret:stint-webhook-AbCdEf", arn)
	}
	return nil
}

var webhookSecretARN = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$`)

// loader reads settings and gathers every problem.
type loader struct {
	lookup Lookup
	values []Value
	errs   []error
}

func (l *loader) read(s Setting) {
	v := Value{Setting: s, Source: Unset}
	if raw, ok := l.lookup(s.Name); ok && strings.TrimSpace(raw) != "" {
		v.Value, v.Source = strings.TrimSpace(raw), FromEnvironment
	} else if s.Default != "" {
		v.Value, v.Source = s.Default, FromDefault
	}
	l.values = append(l.values, v)
}

func (l *loader) check(err error) {
	if err != nil {
		l.errs = append(l.errs, err)
	}
}

// str is the value read for name ("" when the binary does not read it).
func (l *loader) str(name string) string {
	for _, v := range l.values {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

func (l *loader) has(name string) bool {
	return slices.ContainsFunc(l.values, func(v Value) bool { return v.Name == name })
}

func (l *loader) boolean(name string) bool {
	raw := l.str(name)
	if raw == "" {
		return false
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		l.check(fault.Errorf(fault.Invalid, "%s %q: want true or false", name, raw))
	}
	return b
}

func (l *loader) https(name string) string {
	raw := l.str(name)
	if raw == "" {
		return ""
	}
	if u, err := url.Parse(raw); err != nil || u.Scheme != "https" || u.Host == "" {
		l.check(fault.Errorf(fault.Invalid, "%s %q: want an https URL, e.g. %s", name, raw, setting(name).Default))
	}
	return raw
}

func (l *loader) duration(name string) time.Duration {
	raw := l.str(name)
	if raw == "" {
		return 0
	}
	d, err := ParseDuration(raw)
	if err != nil {
		l.check(fault.Errorf(fault.Invalid, "%s %q: want a duration like 24h, 90m or 30d", name, raw))
	}
	return d
}

// thresholds reads a comma-separated list of durations, longest first.
func (l *loader) thresholds(name string) []time.Duration {
	var out []time.Duration
	for _, raw := range splitList(l.str(name)) {
		d, err := ParseDuration(raw)
		if err != nil || d <= 0 {
			l.check(fault.Errorf(fault.Invalid, "%s %q: %q is not a positive duration; want durations like 14d,1d or 12h", name, l.str(name), raw))
			continue
		}
		out = append(out, d)
	}
	slices.Sort(out)
	slices.Reverse(out)
	return slices.Compact(out)
}

// notify reads the notification settings together.
func (l *loader) notify() Notify {
	n := Notify{URL: l.str("STINT_NOTIFY_URL"), Format: l.oneOf("STINT_NOTIFY_FORMAT", NotifyCloudEvents, NotifyTeams, NotifySlack),
		Secret: l.str("STINT_NOTIFY_SECRET")}
	if n.URL == "" {
		return n
	}
	if u, err := url.Parse(n.URL); err != nil || u.Host == "" || !(u.Scheme == "https" || u.Scheme == "http" && isLoopback(u.Hostname())) {
		l.check(fault.Errorf(fault.Invalid, "STINT_NOTIFY_URL %q: want an https URL (plain http only for localhost)", n.URL))
	}
	if n.Format == NotifyCloudEvents && !strings.HasPrefix(n.Secret, "whsec_") {
		l.check(fault.Errorf(fault.Invalid, "STINT_NOTIFY_SECRET is not set or not a whsec_ secret: CloudEvents notifications are signed with it (Standard Webhooks); set one the receiver knows, or STINT_NOTIFY_FORMAT=teams or slack"))
	}
	return n
}

func (l *loader) oneOf(name string, choices ...string) string {
	raw := l.str(name)
	if raw != "" && !slices.Contains(choices, raw) {
		l.check(fault.Errorf(fault.Invalid, "%s %q: want %s", name, raw, strings.Join(choices, " or ")))
	}
	return raw
}

// ParseDuration reads a Go duration ("24h", "30m") or a number of days
// ("30d").
func ParseDuration(raw string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(raw, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n >= 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("not a duration: %q", raw)
	}
	return d, nil
}

var (
	guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	keyRe  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// ParseGroups reads STINT_GROUPS: key=groupObjectId, comma separated.
func ParseGroups(raw string) (map[string]string, error) {
	groups := map[string]string{}
	seen := map[string]string{}
	for i, entry := range strings.Split(raw, ",") {
		key, raw, ok := strings.Cut(strings.TrimSpace(entry), "=")
		key, raw = strings.TrimSpace(key), strings.TrimSpace(raw)
		id := strings.ToLower(raw)
		switch {
		case !ok:
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: entry %d (%q) is not key=groupObjectId", i+1, entry)
		case !keyRe.MatchString(key):
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: entry %d: key %q must be 1-64 letters, digits, '.', '_' or '-'", i+1, key)
		case !guidRe.MatchString(id):
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: entry %d: %q is not a group object id (a GUID, as shown in Entra under the group's Object ID)", i+1, raw)
		case groups[key] != "":
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: key %q is listed twice", key)
		case seen[id] != "":
			return nil, fault.Errorf(fault.Invalid, "STINT_GROUPS: group %s is listed under both %q and %q", id, seen[id], key)
		}
		groups[key], seen[id] = id, key
	}
	return groups, nil
}

// CheckDefaultAccess checks that every default key is allow-listed.
func CheckDefaultAccess(keys []string, groups map[string]string) error {
	for _, k := range keys {
		if _, ok := groups[k]; !ok {
			return fault.Errorf(fault.Invalid, "STINT_DEFAULT_ACCESS: %q is not a key of STINT_GROUPS (%s); set STINT_DEFAULT_ACCESS to one of them", k, strings.Join(Keys(groups), ", "))
		}
	}
	return nil
}

// Keys returns the allow-list's keys, sorted.
func Keys(groups map[string]string) []string {
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CheckEndpoint checks STINT_GRAPH_ENDPOINT: the Graph root, https (plain
// http only on loopback).
func CheckEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fault.Errorf(fault.Invalid, "STINT_GRAPH_ENDPOINT %q: want the Graph root, like %s (no path)", endpoint, setting("STINT_GRAPH_ENDPOINT").Default)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fault.Errorf(fault.Invalid, "STINT_GRAPH_ENDPOINT %q: must be https (plain http only for localhost)", endpoint)
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// federations are the values of STINT_AZURE_FEDERATION b accepts: a
// Lambda function has no managed identity.
func federations(b Binary) []string {
	if b == Stint {
		return []string{FederationAWS, FederationManagedIdentity}
	}
	return []string{FederationAWS}
}

// Check checks the AZURE_* variables and STINT_AZURE_FEDERATION together.
func (t Tenant) Check() error {
	var errs []error
	if t.AuthorityHost != "" {
		if u, err := url.Parse(t.AuthorityHost); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fault.Errorf(fault.Invalid, "AZURE_AUTHORITY_HOST %q: must be an https URL, like https://login.microsoftonline.com/", t.AuthorityHost))
		}
	}
	if t.Federation != "" {
		var set []string
		for _, v := range []struct{ name, value string }{{"AZURE_CLIENT_SECRET", t.ClientSecret},
			{"AZURE_CLIENT_CERTIFICATE_PATH", t.CertificatePath}, {"AZURE_FEDERATED_TOKEN_FILE", t.FederatedTokenFile}} {
			if v.value != "" {
				set = append(set, v.name)
			}
		}
		from := map[string]string{FederationAWS: "AWS STS", FederationManagedIdentity: "the managed identity"}[t.Federation]
		if len(set) > 0 {
			errs = append(errs, fault.Errorf(fault.Invalid, "STINT_AZURE_FEDERATION=%s takes the Graph token from %s through the app's federated credential, so it cannot be used with %s: unset %s (no secret is needed)",
				t.Federation, from, strings.Join(set, " or "), strings.Join(set, " and ")))
		}
	}
	if t.ManagedIdentityClientID != "" && t.Federation != FederationManagedIdentity {
		errs = append(errs, fault.Errorf(fault.Invalid, "STINT_MANAGED_IDENTITY_CLIENT_ID is set but STINT_AZURE_FEDERATION is not managed-identity: set STINT_AZURE_FEDERATION=managed-identity to use the identity, or unset STINT_MANAGED_IDENTITY_CLIENT_ID"))
	}
	if t.Federation == FederationManagedIdentity && t.ClientID != "" && strings.EqualFold(t.ClientID, t.ManagedIdentityClientID) {
		errs = append(errs, fault.Errorf(fault.Invalid, "AZURE_CLIENT_ID and STINT_MANAGED_IDENTITY_CLIENT_ID are both %s: AZURE_CLIENT_ID is the runtime app's client id (the one with the Graph permissions), STINT_MANAGED_IDENTITY_CLIENT_ID the managed identity's", t.ClientID))
	}
	if t.ClientSecret != "" || t.CertificatePath != "" || t.FederatedTokenFile != "" || t.Federation != "" {
		if t.ID == "" {
			errs = append(errs, fault.Errorf(fault.Invalid, "AZURE_TENANT_ID is not set; it is needed with the app's secret, certificate, federated token or STINT_AZURE_FEDERATION"))
		}
		if t.ClientID == "" {
			errs = append(errs, fault.Errorf(fault.Invalid, "AZURE_CLIENT_ID is not set; it is needed with the app's secret, certificate, federated token or STINT_AZURE_FEDERATION"))
		}
	}
	return errors.Join(errs...)
}

func splitList(raw string) []string {
	var out []string
	for _, k := range strings.Split(raw, ",") {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k)
		}
	}
	return out
}
