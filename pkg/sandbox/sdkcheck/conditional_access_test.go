package sdkcheck_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/stintdev/stint/pkg/sandbox"
)

const (
	appID  = "5e0c4f0a-3c1b-4d7e-9a51-2f6b8c0d1e2f"
	secret = "sdkcheck-secret~1"
)

// newGraph serves a tenant over TLS and builds a Graph client for an app
// holding perms, the way any program using the SDK would.
func newGraph(tb testing.TB, perms ...string) (*sandbox.Tenant, *msgraph.GraphServiceClient) {
	tb.Helper()
	ten := sandbox.New(sandbox.Options{})
	ten.AddApp(sandbox.App{ClientID: appID, Secret: secret, Permissions: perms})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ten.CAPool()}}
	cred, err := azidentity.NewClientSecretCredential(ten.TenantID(), appID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL},
			Transport: &http.Client{Transport: transport},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		tb.Fatal(err)
	}
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred, []string{srv.URL + "/.default"}, []string{"127.0.0.1"})
	if err != nil {
		tb.Fatal(err)
	}
	options := msgraph.GetDefaultClientOptions()
	httpClient := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(transport, msgraphcore.GetDefaultMiddlewaresWithOptions(&options)...),
		Timeout:   30 * time.Second,
	}
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		tb.Fatal(err)
	}
	adapter.SetBaseUrl(srv.URL + "/v1.0")
	return ten, msgraph.NewGraphServiceClient(adapter)
}

func ptr[T any](v T) *T { return &v }

// contractorPolicy is a report-only policy for a contractor group and B2B
// guests: MFA, and a sign-in every 12 hours.
func contractorPolicy(group string) models.ConditionalAccessPolicyable {
	apps := models.NewConditionalAccessApplications()
	apps.SetIncludeApplications([]string{"All"})

	tenants := models.NewConditionalAccessAllExternalTenants()
	tenants.SetMembershipKind(ptr(models.ALL_CONDITIONALACCESSEXTERNALTENANTSMEMBERSHIPKIND))
	guests := models.NewConditionalAccessGuestsOrExternalUsers()
	guests.SetGuestOrExternalUserTypes(ptr(models.ConditionalAccessGuestOrExternalUserTypes(
		models.INTERNALGUEST_CONDITIONALACCESSGUESTOREXTERNALUSERTYPES | models.B2BCOLLABORATIONGUEST_CONDITIONALACCESSGUESTOREXTERNALUSERTYPES)))
	guests.SetExternalTenants(tenants)

	users := models.NewConditionalAccessUsers()
	users.SetIncludeGroups([]string{group})
	users.SetIncludeGuestsOrExternalUsers(guests)
	users.SetExcludeUsers([]string{"break-glass"})

	conditions := models.NewConditionalAccessConditionSet()
	conditions.SetApplications(apps)
	conditions.SetUsers(users)
	conditions.SetClientAppTypes([]models.ConditionalAccessClientApp{models.ALL_CONDITIONALACCESSCLIENTAPP})

	grant := models.NewConditionalAccessGrantControls()
	grant.SetOperator(ptr("OR"))
	grant.SetBuiltInControls([]models.ConditionalAccessGrantControl{models.MFA_CONDITIONALACCESSGRANTCONTROL})

	frequency := models.NewSignInFrequencySessionControl()
	frequency.SetIsEnabled(ptr(true))
	frequency.SetValue(ptr(int32(12)))
	frequency.SetTypeEscaped(ptr(models.HOURS_SIGNINFREQUENCYTYPE))
	session := models.NewConditionalAccessSessionControls()
	session.SetSignInFrequency(frequency)

	p := models.NewConditionalAccessPolicy()
	p.SetDisplayName(ptr("Contractors: MFA, sign in every 12 hours"))
	p.SetState(ptr(models.ENABLEDFORREPORTINGBUTNOTENFORCED_CONDITIONALACCESSPOLICYSTATE))
	p.SetConditions(conditions)
	p.SetGrantControls(grant)
	p.SetSessionControls(session)
	return p
}

// The SDK creates, reads, updates and deletes a policy against the
// sandbox, and reads every answer into its models.
func TestSDKManagesConditionalAccessPolicies(t *testing.T) {
	ten, graph := newGraph(t, "Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")
	ctx := context.Background()
	policies := graph.Identity().ConditionalAccess().Policies()

	created, err := policies.Post(ctx, contractorPolicy("g1"), nil)
	if err != nil {
		t.Fatalf("create: %v", describe(err))
	}
	id := deref(created.GetId())
	if id == "" || created.GetCreatedDateTime() == nil || created.GetModifiedDateTime() != nil || created.GetTemplateId() != nil {
		t.Errorf("created: id %q, created %v, modified %v, template %v", id, created.GetCreatedDateTime(), created.GetModifiedDateTime(), created.GetTemplateId())
	}
	if got := created.GetState(); got == nil || *got != models.ENABLEDFORREPORTINGBUTNOTENFORCED_CONDITIONALACCESSPOLICYSTATE {
		t.Errorf("state = %v", got)
	}
	guests := created.GetConditions().GetUsers().GetIncludeGuestsOrExternalUsers()
	want := models.ConditionalAccessGuestOrExternalUserTypes(models.INTERNALGUEST_CONDITIONALACCESSGUESTOREXTERNALUSERTYPES | models.B2BCOLLABORATIONGUEST_CONDITIONALACCESSGUESTOREXTERNALUSERTYPES)
	if got := guests.GetGuestOrExternalUserTypes(); got == nil || *got != want {
		t.Errorf("guestOrExternalUserTypes = %v, want %v", got, want)
	}
	if _, ok := guests.GetExternalTenants().(*models.ConditionalAccessAllExternalTenants); !ok {
		t.Errorf("externalTenants read as %T, want the derived type for all tenants", guests.GetExternalTenants())
	}
	frequency := created.GetSessionControls().GetSignInFrequency()
	if deref(frequency.GetValue()) != 12 || deref(frequency.GetTypeEscaped()) != models.HOURS_SIGNINFREQUENCYTYPE ||
		deref(frequency.GetFrequencyInterval()) != models.TIMEBASED_SIGNINFREQUENCYINTERVAL ||
		deref(frequency.GetAuthenticationType()) != models.PRIMARYANDSECONDARYAUTHENTICATION_SIGNINFREQUENCYAUTHENTICATIONTYPE {
		t.Errorf("signInFrequency = %v %v %v %v", frequency.GetValue(), frequency.GetTypeEscaped(), frequency.GetFrequencyInterval(), frequency.GetAuthenticationType())
	}

	list, err := policies.Get(ctx, nil)
	if err != nil {
		t.Fatalf("list: %v", describe(err))
	}
	if got := list.GetValue(); len(got) != 1 || deref(got[0].GetId()) != id {
		t.Errorf("listed %d policies", len(got))
	}

	// Update only the state and the included groups; the rest stays.
	change := models.NewConditionalAccessPolicy()
	change.SetState(ptr(models.ENABLED_CONDITIONALACCESSPOLICYSTATE))
	users := models.NewConditionalAccessUsers()
	users.SetIncludeGroups([]string{"g2"})
	conditions := models.NewConditionalAccessConditionSet()
	conditions.SetUsers(users)
	change.SetConditions(conditions)
	if _, err := policies.ByConditionalAccessPolicyId(id).Patch(ctx, change, nil); err != nil {
		t.Fatalf("update: %v", describe(err))
	}
	got, err := policies.ByConditionalAccessPolicyId(id).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get: %v", describe(err))
	}
	if deref(got.GetState()) != models.ENABLED_CONDITIONALACCESSPOLICYSTATE || got.GetModifiedDateTime() == nil ||
		!slices.Equal(got.GetConditions().GetUsers().GetIncludeGroups(), []string{"g2"}) ||
		!slices.Equal(got.GetConditions().GetUsers().GetExcludeUsers(), []string{"break-glass"}) ||
		!slices.Equal(got.GetConditions().GetApplications().GetIncludeApplications(), []string{"All"}) ||
		len(got.GetGrantControls().GetBuiltInControls()) != 1 {
		t.Errorf("after update: state %v, modified %v, conditions %+v", got.GetState(), got.GetModifiedDateTime(), got.GetConditions().GetUsers().GetIncludeGroups())
	}
	if p, _ := ten.Policy(id); p.State != sandbox.PolicyEnabled {
		t.Errorf("the tenant holds state %q", p.State)
	}

	if err := policies.ByConditionalAccessPolicyId(id).Delete(ctx, nil); err != nil {
		t.Fatalf("delete: %v", describe(err))
	}
	_, err = policies.ByConditionalAccessPolicyId(id).Get(ctx, nil)
	if code, status := odataCode(err); status != http.StatusNotFound || code != "Request_ResourceNotFound" {
		t.Errorf("get after delete: %v (%s, %d), want 404 Request_ResourceNotFound", err, code, status)
	}
	if n := len(ten.Policies()); n != 0 {
		t.Errorf("%d policies left", n)
	}
}

// The SDK reads the sandbox's refusals as OData errors with code and message.
func TestSDKReadsPolicyRefusals(t *testing.T) {
	_, graph := newGraph(t, "Policy.Read.All")
	ctx := context.Background()
	_, err := graph.Identity().ConditionalAccess().Policies().Post(ctx, contractorPolicy("g1"), nil)
	if code, status := odataCode(err); status != http.StatusForbidden || code != "Authorization_RequestDenied" {
		t.Errorf("create without Policy.ReadWrite.ConditionalAccess: %v (%s, %d)", err, code, status)
	}

	_, graph = newGraph(t, "Policy.Read.All", "Policy.ReadWrite.ConditionalAccess")
	p := contractorPolicy("g1")
	p.SetGrantControls(nil)
	p.SetSessionControls(nil)
	_, err = graph.Identity().ConditionalAccess().Policies().Post(ctx, p, nil)
	if code, status := odataCode(err); status != http.StatusBadRequest || code != "BadRequest" {
		t.Errorf("create with no control: %v (%s, %d), want 400 BadRequest", err, code, status)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// odataCode is the error code and status of an SDK error.
func odataCode(err error) (string, int) {
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.GetErrorEscaped() == nil {
		return "", 0
	}
	return deref(oe.GetErrorEscaped().GetCode()), oe.ResponseStatusCode
}

func describe(err error) string {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe.GetErrorEscaped() != nil {
		return deref(oe.GetErrorEscaped().GetCode()) + ": " + deref(oe.GetErrorEscaped().GetMessage())
	}
	return err.Error()
}
