// Package config is stint's configuration: every setting declared once —
// its name, default, whether it is a secret, which binaries read it, and
// what it means — and loaded once, by each main and by the stint command,
// into one typed value that is passed down. Nothing else reads the
// environment. The README's configuration table is generated from the
// declaration (a test fails when they differ), and the deployment's check
// compares what each binary reads with what it is given.
package config

import "slices"

// Binary is a program that reads settings.
type Binary string

// The binaries: the three AWS Lambda functions and the stint command.
const (
	Webhook Binary = "webhook"
	Worker  Binary = "worker"
	Sweep   Binary = "sweep"
	Stint   Binary = "stint"
)

// Binaries lists them in the order the docs use.
var Binaries = []Binary{Webhook, Worker, Sweep, Stint}

// Setting declares one environment variable.
type Setting struct {
	Name string
	// Default is the value when unset ("" for none).
	Default string
	// Secret settings are never printed.
	Secret bool
	// ReadBy lists the binaries that read it.
	ReadBy []Binary
	// Doc says what it means and what to write.
	Doc string
}

// reads reports whether b reads the setting.
func (s Setting) reads(b Binary) bool {
	for _, r := range s.ReadBy {
		if r == b {
			return true
		}
	}
	return false
}

var (
	graphUsers = []Binary{Worker, Sweep, Stint}
	all        = []Binary{Webhook, Worker, Sweep, Stint}
)

// Settings are every setting stint reads.
var Settings = []Setting{
	{Name: "AZURE_TENANT_ID", ReadBy: graphUsers,
		Doc: "The Entra tenant (directory) id. `stint serve` runs against this tenant; without it, only with `--sandbox`."},
	{Name: "AZURE_CLIENT_ID", ReadBy: graphUsers,
		Doc: "The runtime app's application (client) id; with a user-assigned managed identity, that identity's client id."},
	{Name: "AZURE_CLIENT_SECRET", Secret: true, ReadBy: graphUsers,
		Doc: "The app's client secret. Prefer a federated token or a managed identity, then a certificate."},
	{Name: "AZURE_CLIENT_CERTIFICATE_PATH", ReadBy: graphUsers,
		Doc: "A PEM or PKCS#12 file holding the app's certificate and its private key."},
	{Name: "AZURE_CLIENT_CERTIFICATE_PASSWORD", Secret: true, ReadBy: graphUsers,
		Doc: "The password of a PKCS#12 certificate file, if it has one."},
	{Name: "AZURE_FEDERATED_TOKEN_FILE", ReadBy: graphUsers,
		Doc: "A file holding a federated token (workload identity) the app's federated credential trusts. With none of the secret, certificate or token, the Azure SDK's default chain is used (managed identity, Azure CLI)."},
	{Name: "STINT_AZURE_FEDERATION", ReadBy: graphUsers,
		Doc: "No secret at all. `aws`: the function's IAM role gets a token from AWS STS `GetWebIdentityToken` (IAM outbound identity federation; audience `api://AzureADTokenExchange`, RS256) and Entra trades it for a Graph token through the app's federated identity credential (issuer: the account's AWS issuer URL; subject: the role's ARN). The AWS SDK's standard settings apply (`AWS_REGION`, the role's credentials). `managed-identity` (the stint command, on Azure): the host's managed identity gets that token from the platform's identity endpoint (issuer `https://login.microsoftonline.com/<tenant>/v2.0`, subject the identity's principal id), and Service Bus and PostgreSQL are reached as the identity itself. Not with a client secret, certificate or federated token file."},
	{Name: "STINT_MANAGED_IDENTITY_CLIENT_ID", ReadBy: []Binary{Stint},
		Doc: "With `STINT_AZURE_FEDERATION=managed-identity`: the client id of the user-assigned managed identity (`AZURE_CLIENT_ID` stays the app's); unset, the system-assigned identity."},
	{Name: "AZURE_AUTHORITY_HOST", ReadBy: graphUsers,
		Doc: "The token service, `https://…` (default Microsoft's global one; sovereign clouds differ). Instance discovery is off for a host that is not Microsoft's."},
	{Name: "STINT_GRAPH_ENDPOINT", Default: "https://graph.microsoft.com", ReadBy: graphUsers,
		Doc: "The Graph root (no path); the token is requested for `<endpoint>/.default` and attached only for that host."},
	{Name: "STINT_GROUPS", ReadBy: all,
		Doc: "The allow-list, `key=groupObjectId[,key=groupObjectId…]`: stint touches no other group. Required, but for `stint serve --sandbox`; optional for the webhook (then unknown access keys are refused there)."},
	{Name: "STINT_DEFAULT_ACCESS", Default: "contractor-access", ReadBy: graphUsers,
		Doc: "Access keys granted when an event lists none, comma separated; each a key of `STINT_GROUPS`."},
	{Name: "STINT_STORE", ReadBy: []Binary{Worker, Sweep, Stint},
		Doc: "The ledger: `sqlite:///path/to/stint.db`, `dynamodb://table` or `postgres://user@host/db` (add `?azure=entra` for Azure Database for PostgreSQL with an Entra token as the password). `stint serve` keeps its ledger and queue in the PostgreSQL database this names, shared by every replica, and otherwise in its data directory; `stint policy` records the policies it owns in this ledger when set, so that the sweep function sees them."},
	{Name: "STINT_WEBHOOK_SECRET", Secret: true, ReadBy: []Binary{Webhook, Stint},
		Doc: "Standard Webhooks secret(s), `whsec_<base64>`, several separated by spaces to rotate. `stint serve` makes one in its data directory when unset."},
	{Name: "STINT_WEBHOOK_SECRET_ARN", ReadBy: []Binary{Webhook},
		Doc: "For the webhook function, instead of `STINT_WEBHOOK_SECRET`: the ARN of the Secrets Manager secret holding it (its `SecretString`, the same format), read once at cold start. The function's role needs `secretsmanager:GetSecretValue` on it. Set one of the two, not both."},
	{Name: "STINT_QUEUE_URL", ReadBy: []Binary{Webhook, Stint},
		Doc: "The queue events go through: for the webhook function, its SQS FIFO queue's URL; for `stint serve`, an Azure Service Bus session queue, `servicebus://<namespace>.servicebus.windows.net/<queue>` (unset: the embedded queue in the data directory)."},
	{Name: "STINT_SERVICEBUS_CONNECTION", Secret: true, ReadBy: []Binary{Stint},
		Doc: "A Service Bus connection string (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…`, or the local emulator's, ending `UseDevelopmentEmulator=true`). Unset: an Entra token — the managed identity's own with `STINT_AZURE_FEDERATION=managed-identity`, else the app's credential — whose principal needs the Azure Service Bus Data Sender (webhook) and Receiver and Sender (worker) roles on the queue."},
	{Name: "STINT_DLQ_URL", ReadBy: []Binary{Worker},
		Doc: "The SQS FIFO queue for events that can never apply."},
	{Name: "STINT_SEND_INVITATION", Default: "false", ReadBy: graphUsers,
		Doc: "`true` lets Entra email the invitation (Graph's default is not to)."},
	{Name: "STINT_INVITE_REDIRECT_URL", Default: DefaultRedirectURL, ReadBy: graphUsers,
		Doc: "Where invited guests land after redeeming, `https://…`."},
	{Name: "STINT_GHOST_GRACE", Default: "24h", ReadBy: []Binary{Sweep, Stint},
		Doc: "How long the reconcile flags a member no engagement justifies before removing it (`90m`, `24h`, `2d`)."},
	{Name: "STINT_GHOST_ACTION", Default: "remove", ReadBy: []Binary{Sweep, Stint},
		Doc: "`remove` ghosts after the grace, or only `report` them."},
	{Name: "STINT_UNREDEEMED_AFTER", Default: "30d", ReadBy: []Binary{Sweep, Stint},
		Doc: "Flag guests whose invitation is still unredeemed after this long."},
	{Name: "STINT_BREAK_GLASS", ReadBy: []Binary{Sweep, Stint},
		Doc: "The emergency-access accounts every Conditional Access policy stint manages excludes: `user:<objectId>` or `group:<objectId>`, comma separated. Required by `stint policy` and the reconcile's policy drift check."},
	{Name: "STINT_ALLOWED_APPS", ReadBy: []Binary{Sweep, Stint},
		Doc: "The application (client) ids contractors may use, comma separated (`Office365` names Microsoft's app group); every other cloud app is blocked for them. Required when a policy blocks all apps."},
	{Name: "STINT_SIGNIN_FREQUENCY", Default: "8h", ReadBy: []Binary{Sweep, Stint},
		Doc: "How often contractors must sign in again: `1h`–`23h` or `1d`–`365d`."},
	{Name: "STINT_AUTH_STRENGTH", ReadBy: []Binary{Sweep, Stint},
		Doc: "An authentication strength policy id the MFA policy requires instead of plain MFA (e.g. `00000000-0000-0000-0000-000000000004`, phishing-resistant)."},
	{Name: "STINT_POLICIES", ReadBy: []Binary{Sweep, Stint},
		Doc: "A directory of Conditional Access policy files (Graph's JSON, one per file) to manage instead of the built-in baseline."},
	{Name: "STINT_POLICY_DRIFT", Default: "report", ReadBy: []Binary{Sweep, Stint},
		Doc: "What the reconcile does with a stint policy changed or deleted by hand: `report` it, or `repair` it as well."},
	{Name: "STINT_DORMANT_AFTER", Default: "30d", ReadBy: []Binary{Sweep, Stint},
		Doc: "A contractor with an active engagement and no sign-in for this long is dormant: flagged to the sponsor (needs sign-in activity: `AuditLog.Read.All` and Entra ID P1)."},
	{Name: "STINT_DORMANT_ACTION", Default: "report", ReadBy: []Binary{Sweep, Stint},
		Doc: "`report` dormant contractors (notification, report flag), or also `end` their access as if the engagement had ended."},
	{Name: "STINT_VERIFY_WINDOW", Default: "7d", ReadBy: []Binary{Sweep, Stint},
		Doc: "For this long after an engagement ends, the reconcile reads the contractor's sign-ins since the end (`auditLogs/signIns`, `AuditLog.Read.All`): a successful one is a critical finding."},
	{Name: "STINT_REMIND_BEFORE", Default: "14d,1d", ReadBy: []Binary{Sweep, Stint},
		Doc: "When to remind the sponsor before an engagement ends, comma separated (`14d,1d`); one reminder per engagement and threshold."},
	{Name: "STINT_NOTIFY_URL", ReadBy: []Binary{Sweep, Stint},
		Doc: "Where notifications go (reminders, ended, ghost, drift, policy drift, dormant, signed in after the end), `https://…`; unset, none are sent."},
	{Name: "STINT_NOTIFY_FORMAT", Default: "cloudevents", ReadBy: []Binary{Sweep, Stint},
		Doc: "`cloudevents` (`dev.stint.*` CloudEvents, signed with Standard Webhooks), `teams` (a Teams Workflows webhook, Adaptive Card) or `slack` (an incoming webhook)."},
	{Name: "STINT_NOTIFY_SECRET", Secret: true, ReadBy: []Binary{Sweep, Stint},
		Doc: "The Standard Webhooks secret (`whsec_…`) notifications are signed with; required with `cloudevents`."},
	{Name: "STINT_DATA", Default: ".stint", ReadBy: []Binary{Stint},
		Doc: "The stint command's data directory (ledger, queue, sandbox tenant, webhook secret); `--data` overrides it."},
}

// DefaultRedirectURL is where invited guests land when
// STINT_INVITE_REDIRECT_URL is unset: their My Apps portal.
const DefaultRedirectURL = "https://myapps.microsoft.com"

// setting returns the declaration of name; it panics for an undeclared
// name (a programming error, caught by every test).
func setting(name string) Setting {
	for _, s := range Settings {
		if s.Name == name {
			return s
		}
	}
	panic("config: undeclared setting " + name)
}

// servedExtra is what `stint serve --only ROLE` (and, for the sweep, `stint
// sweep`) reads beyond what the role's AWS function reads: its data
// directory, its identity (the host builds its credentials whatever its
// role: Service Bus and PostgreSQL take tokens too), and the Service Bus
// queue it sends to or takes from (a Lambda is given its messages).
var servedExtra = map[Binary][]string{
	Webhook: {"STINT_DATA", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
		"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "STINT_AZURE_FEDERATION", "STINT_MANAGED_IDENTITY_CLIENT_ID",
		"AZURE_AUTHORITY_HOST", "STINT_SERVICEBUS_CONNECTION"},
	Worker: {"STINT_DATA", "STINT_MANAGED_IDENTITY_CLIENT_ID", "STINT_QUEUE_URL", "STINT_SERVICEBUS_CONNECTION"},
	Sweep:  {"STINT_DATA", "STINT_MANAGED_IDENTITY_CLIENT_ID"},
}

// ServedBy lists the settings the stint command reads when it plays one
// role (Webhook, Worker or Sweep) on a host such as Azure Container Apps:
// the deployment's check compares each app's environment with it.
func ServedBy(role Binary) []Setting {
	var out []Setting
	for _, s := range ReadBy(Stint) {
		if s.reads(role) || slices.Contains(servedExtra[role], s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// ReadBy lists the settings a binary reads, in declaration order.
func ReadBy(b Binary) []Setting {
	var out []Setting
	for _, s := range Settings {
		if s.reads(b) {
			out = append(out, s)
		}
	}
	return out
}
