// Package entra is stint's way into Microsoft Entra ID: an
// engagement.Directory on Microsoft Graph v1.0, through msgraph-sdk-go with
// credentials from azidentity.
//
// # What it asks of the tenant
//
// The runtime app needs exactly these application permissions, with admin
// consent (least privilege; see design.md):
//
//	User.Read.All                   FindUser, Members (user properties)
//	User.Invite.All                 Invite
//	GroupMember.ReadWrite.All       Group, AddMember(s) (POST members/$ref, or
//	                                PATCH members@odata.bind), RemoveMember(s), Members
//	User.EnableDisableAccount.All   SetAccountEnabled
//	User.RevokeSessions.All         RevokeSessions
//
// An error for a missing permission names the one the operation needs.
// Sponsors reads with User.Read.All, and Invite names sponsors with
// User.Invite.All. The optional features need more (see Permissions):
// SignInActivity and SignIns need AuditLog.Read.All and Entra ID P1, and
// return ErrSignInsUnavailable without them.
//
// # How it talks to Graph
//
//   - The token is requested for "<endpoint>/.default" and attached only for
//     the endpoint's host (NewGraphServiceClientWithCredentials would send no
//     token to any host but Microsoft's own).
//   - The middleware chain is the SDK's minus the compression handler: Graph
//     bodies here are tiny, and the SDK's retry can resend a body labelled
//     gzip that is not (kiota-http-go issue 183; Graph answers 400).
//   - Every attempt of a request gets a body of its own (see
//     replayableBody): the SDK's retry resends one shared body that net/http
//     may still be reading.
//   - 429, 503 and 504 are retried by the SDK's retry handler, at most
//     Config.MaxRetries times. A fractional Retry-After ("2.128") is rounded
//     up before the handler sees it (it would truncate it and retry too
//     early), and a retry whose wait would pass the context's deadline is not
//     made: the error goes back to the caller as fault.Transient carrying the
//     wait, so a Lambda hands the message back to its queue in time. A
//     write refused for the write limit is the exception: the write pacing
//     retries it (below).
//   - Every write is logged (slog) with the Graph request-id of its
//     response; tokens never are. requestlog.New collects those ids for the
//     caller's own log line.
//   - Every attempt on the wire and every $batch item can be observed
//     (Config.Observe), named by Operation — a path template, never a URL —
//     for metrics (429s included: the retries never hide them).
//
// # Bursts: at Graph's write limit
//
// Graph gives an app 3,000 writes per 150 s in a tenant (a token bucket,
// refilled at 20 a second) on top of its resource units. Go-live or a
// reorganisation brings thousands of `started` events at once, and each
// costs writes: an invitation for a new guest, a membership for everyone.
// Two things keep a burst within the budget, and its 429s out of sight:
//
//   - Memberships travel together (coalescer). AddMember calls for one
//     group by concurrent callers — a worker's batch, the embedded queue's
//     consumers, the tick's parallel settles — share requests, as a
//     database commits a group of transactions: a caller whose group has
//     no add in flight sends its own at once (a lone event waits for
//     nobody), and those arriving meanwhile go together when it is done,
//     or at once when 20 wait: one PATCH of members@odata.bind, one write
//     for up to 20 contractors. Each caller blocks until its own member is
//     in, so a settle moves on only once its change is made, as before.
//     Graph refuses such a PATCH whole when one member is in already or
//     does not exist, without saying which: then each member is added
//     alone, and gets its own answer (already a member is success, a
//     deleted account not found); a failure that is not about the
//     members (throttling or an outage once the retries are spent, a
//     permission missing) is every caller's answer instead, rather than a
//     request per member to a Graph that is already refusing. A gathered
//     request never outlives one
//     of its callers: its deadline is the earliest of theirs and a
//     cancelled caller cancels it, since a settle's context ends with its
//     claim on the contractor and nothing of its may reach Entra after.
//     Removals gather the same way into one $batch: one request on the
//     wire, though Graph still charges a write per removal (a $batch's
//     items are throttled one by one). RemoveAndRead is left as it is: an
//     end's removals and read share one $batch per contractor already,
//     and merging contractors' would save envelopes, not writes.
//   - Writes are paced at the limit (writePace). After a 429 whose
//     x-ms-throttle-scope names the write limit, the client sends its
//     writes one every 50 ms — the refill rate, a $batch when its items'
//     worth has refilled — in the order they came, and retries the refused
//     write itself at its turn, to the millisecond of a fractional
//     Retry-After. Rather than every worker retrying after the same wait
//     and all but one being refused again (Graph: "all requests accrue
//     against your usage limits"), the app meets a few 429s per burst
//     (the writes in flight when the bucket ran dry) and sustains the
//     limit's rate. A write whose turn comes after its
//     context's deadline fails at once as fault.Transient carrying the
//     wait; reads are never held. Pacing ends once the app has not written
//     for 10 s; another process of the same app writing too brings 429s
//     that push the turns back.
//
// With gathering, the writes of a burst are about one per new guest plus
// one per 20 memberships — fewer the more messages are in hand at once
// (pkg/host's BenchmarkBurst measures it; the README has the figures).
package entra

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// microsoftAuthorities are the public and sovereign token services; for any
// other AZURE_AUTHORITY_HOST (the sandbox) instance discovery is switched
// off, since MSAL would ask login.microsoftonline.com to vouch for it.
var microsoftAuthorities = []string{
	"login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
	"login.partner.microsoftonline.cn", "login.microsoftonline.de",
}

// Config says where Graph is and how to reach it.
type Config struct {
	// Endpoint is the Graph root (STINT_GRAPH_ENDPOINT), without /v1.0.
	Endpoint string
	// Credential obtains tokens; Credential builds the standard one.
	Credential azcore.TokenCredential
	// Transport carries Graph requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// MaxRetries bounds the SDK's retries of 429/503/504 (default 3).
	MaxRetries int
	// Logger receives one line per write; nil means slog.Default().
	Logger *slog.Logger
	// Observe, when set, is told of every request on the wire — each
	// attempt, so the 429s the SDK retries too — and of every item of a
	// $batch: for metrics (pkg/metrics), without this package knowing of
	// them.
	Observe func(Observed)
}

// Credential builds the credential from the tenant settings (azidentity's
// standard variables, as pkg/config loaded them), choosing explicitly so
// that a misconfiguration gets one precise error rather than a walk down
// the whole chain (which would end probing the managed identity endpoint):
//
//   - STINT_AZURE_FEDERATION=aws: a ClientAssertionCredential with
//     assertions from AWS STS (AWSCredential), and nothing else
//   - STINT_AZURE_FEDERATION=managed-identity: one with assertions from
//     the host's managed identity (ManagedIdentityCredential)
//   - a client secret: ClientSecretCredential
//   - a certificate file: ClientCertificateCredential
//   - a federated token file: WorkloadIdentityCredential
//   - none of them: DefaultAzureCredential (managed identity, Azure CLI, ...)
//
// When the authority host is not one of Microsoft's (the sandbox),
// instance discovery is disabled. transport may be nil.
func Credential(t config.Tenant, transport policy.Transporter) (azcore.TokenCredential, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	client := azcore.ClientOptions{Transport: transport}
	discoveryOff := false
	if t.AuthorityHost != "" {
		u, _ := url.Parse(t.AuthorityHost) // checked by config.Load
		client.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: t.AuthorityHost}
		discoveryOff = !isMicrosoftAuthority(u.Hostname())
	}
	var cred azcore.TokenCredential
	var err error
	switch {
	case t.Federation == config.FederationAWS:
		var api *sts.Client
		if api, err = awsSTS(); err != nil {
			return nil, err
		}
		cred, err = AWSCredential(t, api, &azidentity.ClientAssertionCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: discoveryOff})
	case t.Federation == config.FederationManagedIdentity:
		cred, err = ManagedIdentityCredential(t, &azidentity.ClientAssertionCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: discoveryOff})
	case t.ClientSecret != "":
		cred, err = azidentity.NewClientSecretCredential(t.ID, t.ClientID, t.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: discoveryOff})
	case t.CertificatePath != "":
		cred, err = certificateCredential(t, client, discoveryOff)
	case t.FederatedTokenFile != "":
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: client, ClientID: t.ClientID, TenantID: t.ID, TokenFilePath: t.FederatedTokenFile, DisableInstanceDiscovery: discoveryOff})
	default:
		cred, err = azidentity.NewDefaultAzureCredential(&azidentity.DefaultAzureCredentialOptions{ClientOptions: client, TenantID: t.ID, DisableInstanceDiscovery: discoveryOff})
	}
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "azure credential: %w", err)
	}
	return cred, nil
}

// certificateCredential reads AZURE_CLIENT_CERTIFICATE_PATH (PEM or
// PKCS#12, with AZURE_CLIENT_CERTIFICATE_PASSWORD if it has one).
func certificateCredential(t config.Tenant, client azcore.ClientOptions, discoveryOff bool) (azcore.TokenCredential, error) {
	data, err := os.ReadFile(t.CertificatePath)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "AZURE_CLIENT_CERTIFICATE_PATH: %v", err)
	}
	var password []byte
	if t.CertificatePassword != "" {
		password = []byte(t.CertificatePassword)
	}
	certs, key, err := azidentity.ParseCertificates(data, password)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "AZURE_CLIENT_CERTIFICATE_PATH %s: %v (want a PEM or PKCS#12 file with the certificate and its private key)", t.CertificatePath, err)
	}
	return azidentity.NewClientCertificateCredential(t.ID, t.ClientID, certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: discoveryOff})
}

func isMicrosoftAuthority(host string) bool {
	for _, a := range microsoftAuthorities {
		if strings.EqualFold(host, a) {
			return true
		}
	}
	return false
}

// Client is the Graph adapter.
type Client struct {
	graph    *msgraph.GraphServiceClient
	adapter  *msgraph.GraphRequestAdapter
	endpoint string
	cred     azcore.TokenCredential
	log      *slog.Logger
	observe  func(Observed)
	// pace spaces writes at Graph's write limit; adds and removes gather
	// concurrent membership changes of one group.
	pace          *writePace
	adds, removes *coalescer
}

// Endpoint is the Graph root the client talks to.
func (c *Client) Endpoint() string { return c.endpoint }

// Credential is the credential the client gets its tokens with.
func (c *Client) Credential() azcore.TokenCredential { return c.cred }

var _ engagement.Directory = (*Client)(nil)

// New builds the adapter. It makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = "https://graph.microsoft.com"
	}
	cfg.Endpoint = strings.TrimSuffix(cfg.Endpoint, "/")
	if err := config.CheckEndpoint(cfg.Endpoint); err != nil {
		return nil, err
	}
	if cfg.Credential == nil {
		return nil, fault.Errorf(fault.Invalid, "entra: no credential")
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = 3
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	u, _ := url.Parse(cfg.Endpoint)
	// The allowed-hosts check compares host names without the port: a
	// "host:port" entry would silently send no token.
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		cfg.Credential, []string{cfg.Endpoint + "/.default"}, []string{u.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("entra: authentication provider: %w", err)
	}
	options := msgraph.GetDefaultClientOptions()
	pace := &writePace{}
	middleware := []khttp.Middleware{
		recordResponses{},
		msgraphcore.NewGraphTelemetryHandler(&options),
		replayableBody{},
		khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
			MaxRetries:  cfg.MaxRetries,
			ShouldRetry: retryWithinDeadline,
		}),
		paceWrites{p: pace, retries: cfg.MaxRetries, log: cfg.Logger},
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		freshBody{},
		roundUpRetryAfter{},
	}
	if cfg.Observe != nil { // inside the retries, so each attempt is seen
		middleware = slices.Insert(middleware, len(middleware)-1, khttp.Middleware(observeRequests{cfg.Observe}))
	}
	httpClient := khttp.GetDefaultClient(middleware...)
	if cfg.Transport != nil {
		httpClient.Transport = khttp.NewCustomTransportWithParentTransport(cfg.Transport, middleware...)
	}
	httpClient.Timeout = 0 // bounded by each call's context instead
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		return nil, fmt.Errorf("entra: request adapter: %w", err)
	}
	// Before the client is built: its request builders copy the base URL.
	adapter.SetBaseUrl(cfg.Endpoint + "/v1.0")
	c := &Client{graph: msgraph.NewGraphServiceClient(adapter), adapter: adapter, endpoint: cfg.Endpoint, cred: cfg.Credential,
		log: cfg.Logger, observe: cfg.Observe, pace: pace}
	c.adds = newCoalescer(maxBind, c.addMember, c.bindMembers)
	c.removes = newCoalescer(BatchSize, c.removeMember, c.removeMembers)
	return c, nil
}

// maxBind is how many members one PATCH of members@odata.bind may add.
const maxBind = 20

// retryWithinDeadline lets the SDK retry only when the wait fits in the
// context's remaining time, and never a write refused for the write limit:
// paceWrites has retried it at its turn already.
func retryWithinDeadline(delay time.Duration, attempt int, req *http.Request, resp *http.Response) bool {
	if pacedRetry(req, resp) {
		return false
	}
	deadline, ok := req.Context().Deadline()
	if !ok {
		return true
	}
	wait := retryAfter(resp.Header)
	if wait == 0 {
		wait = time.Duration(3<<attempt) * time.Second // the handler's own backoff, roughly
	}
	return time.Until(deadline) > wait+time.Second
}
