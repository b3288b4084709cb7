package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

// Without a secret, the app proves who it is with a token another
// identity provider issued to the workload — AWS STS for a Lambda role
// (aws.go), the platform for an Azure managed identity (azure.go) —
// which Entra accepts through one of the app's federated identity
// credentials (issuer, subject, audience).
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation

// assertions is where a federated credential's assertions come from.
type assertions interface {
	// assertion is azidentity's getAssertion.
	assertion(ctx context.Context) (string, error)
	// lastError is the error of the last request, nil once one succeeded:
	// azidentity keeps only the text of the callback's error.
	lastError() error
	// identity is the issuer and subject of the last assertion.
	identity() (iss, sub string)
}

// federated is a ClientAssertionCredential whose assertions come from src;
// it turns the refusals of either side into one precise error.
type federated struct {
	inner    *azidentity.ClientAssertionCredential
	src      assertions
	clientID string
	// what the assertion is, for errors ("the AWS token").
	what string
}

func newFederated(t config.Tenant, src assertions, what string, opts *azidentity.ClientAssertionCredentialOptions) (*federated, error) {
	inner, err := azidentity.NewClientAssertionCredential(t.ID, t.ClientID, src.assertion, opts)
	if err != nil {
		return nil, err
	}
	return &federated{inner: inner, src: src, clientID: t.ClientID, what: what}, nil
}

// GetToken implements azcore.TokenCredential.
func (c *federated) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.inner.GetToken(ctx, opts)
	if err == nil {
		return tok, nil
	}
	if srcErr := c.src.lastError(); srcErr != nil {
		return tok, srcErr
	}
	return tok, c.explain(err)
}

// explain names what to configure when Entra refuses the assertion.
func (c *federated) explain(err error) error {
	var authErr *azidentity.AuthenticationFailedError
	if !errors.As(err, &authErr) || authErr.RawResponse == nil {
		return err
	}
	body, _ := runtime.Payload(authErr.RawResponse)
	var answer struct {
		Codes []int `json:"error_codes"`
	}
	_ = json.Unmarshal(body, &answer)
	iss, sub := c.src.identity()
	code := 0
	if len(answer.Codes) > 0 {
		code = answer.Codes[0]
	}
	switch code {
	case 70021, 700211, 700212, 700213:
		return fault.Errorf(fault.Unauthorized, "Entra refused %s (AADSTS%d: no federated identity credential matches it): add one to app %s with issuer %s, subject %s and audience %s",
			c.what, code, c.clientID, iss, sub, ExchangeAudience)
	case 700024:
		return fault.Errorf(fault.Unauthorized, "Entra refused %s (AADSTS700024: outside its validity period): check this host's clock", c.what)
	case 700027, 50166:
		return fault.Errorf(fault.Unauthorized, "Entra could not verify %s (AADSTS%d): Entra must reach %s/.well-known/openid-configuration and find the token's signing key there; check the federated identity credential's issuer on app %s",
			c.what, code, iss, c.clientID)
	}
	return err
}

// jwtIdentity reads iss and sub from a JWT's payload, unverified: they
// only go into error messages (the token itself never does).
func jwtIdentity(tok string) (iss, sub string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "(unknown issuer)", "(unknown subject)"
	}
	var c struct{ Iss, Sub string }
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(b, &c)
	return c.Iss, c.Sub
}
