package entra

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

// On Azure (STINT_AZURE_FEDERATION=managed-identity) no secret exists
// either: the host's managed identity asks the platform for a token for
// the audience api://AzureADTokenExchange, and Entra accepts it as the
// app's client assertion through the app's federated identity credential
// (issuer https://login.microsoftonline.com/<tenant>/v2.0; subject the
// identity's principal id). The identity itself holds no Graph
// permission: it reaches the Azure resources (Service Bus, PostgreSQL),
// and the app, with its five permissions, reaches Graph.
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation-config-app-trust-managed-identity

// ManagedIdentityCredential returns the credential
// STINT_AZURE_FEDERATION=managed-identity selects: the app's, with
// assertions from the host's managed identity (managedIdentity).
func ManagedIdentityCredential(t config.Tenant, opts *azidentity.ClientAssertionCredentialOptions) (azcore.TokenCredential, error) {
	if opts == nil {
		opts = &azidentity.ClientAssertionCredentialOptions{}
	}
	mi, err := managedIdentity(t, opts.Transport)
	if err != nil {
		return nil, err
	}
	return newFederated(t, &identityTokens{cred: mi}, "the managed identity's token", opts)
}

// ResourceCredential is the credential stint reaches Azure resources with
// (Service Bus, PostgreSQL's Entra authentication): with
// STINT_AZURE_FEDERATION=managed-identity the managed identity itself,
// whose roles those are; otherwise Credential's.
func ResourceCredential(t config.Tenant, transport policy.Transporter) (azcore.TokenCredential, error) {
	if t.Federation != config.FederationManagedIdentity {
		return Credential(t, transport)
	}
	return managedIdentity(t, transport)
}

// managedIdentity is the host's managed identity: the user-assigned one
// STINT_MANAGED_IDENTITY_CLIENT_ID names, else the system-assigned one.
func managedIdentity(t config.Tenant, transport policy.Transporter) (*identity, error) {
	opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: azcore.ClientOptions{Transport: transport}}
	if t.ManagedIdentityClientID != "" {
		opts.ID = azidentity.ClientID(t.ManagedIdentityClientID)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "STINT_AZURE_FEDERATION=managed-identity: %v", err)
	}
	return &identity{cred: cred, clientID: t.ManagedIdentityClientID}, nil
}

// identity is a managed identity whose failures say which identity and
// what to do.
type identity struct {
	cred     *azidentity.ManagedIdentityCredential
	clientID string
}

// GetToken implements azcore.TokenCredential.
func (m *identity) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := m.cred.GetToken(ctx, opts)
	if err != nil {
		return tok, identityError(err, m.clientID)
	}
	return tok, nil
}

// identityError says which identity the platform did not give a token for.
func identityError(err error, clientID string) error {
	which := "the system-assigned managed identity (STINT_MANAGED_IDENTITY_CLIENT_ID is unset)"
	if clientID != "" {
		which = "the managed identity STINT_MANAGED_IDENTITY_CLIENT_ID=" + clientID + " names"
	}
	var refused *azidentity.AuthenticationFailedError
	if errors.As(err, &refused) && refused.RawResponse != nil {
		return fault.Errorf(fault.Unauthorized, "no token from %s: the platform refused it: assign that identity to this app or job (STINT_MANAGED_IDENTITY_CLIENT_ID is its client id, not its principal id), or unset STINT_MANAGED_IDENTITY_CLIENT_ID for a system-assigned one: %v", which, err)
	}
	return fault.Wrap(fault.Transient, fmt.Errorf("no token from %s: the managed identity endpoint did not answer (on Azure, assign the identity to the app or job; outside Azure there is none: use another credential): %w", which, err))
}

// identityTokens gets assertions from the managed identity. azidentity
// caches its tokens (they last hours and are renewed well before they
// end), so each assertion is a cache lookup but when one is due.
type identityTokens struct {
	cred *identity

	mu       sync.Mutex
	iss, sub string
	err      error
}

func (m *identityTokens) assertion(ctx context.Context) (string, error) {
	tok, err := m.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{ExchangeAudience + "/.default"}})
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.err = err
		return "", err
	}
	m.err = nil
	m.iss, m.sub = jwtIdentity(tok.Token)
	return tok.Token, nil
}

func (m *identityTokens) lastError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *identityTokens) identity() (iss, sub string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.iss, m.sub
}
