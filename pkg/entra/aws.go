package entra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

// On AWS (STINT_AZURE_FEDERATION=aws) no secret exists: the function's IAM
// role asks AWS STS for a JSON Web Token (GetWebIdentityToken, IAM
// outbound identity federation) and presents it to Entra as the client
// assertion, which Entra accepts through the app's federated identity
// credential (issuer: the account's AWS issuer URL; subject: the role ARN).
// https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_outbound.html
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation

const (
	// ExchangeAudience is the audience Entra expects in a federated
	// assertion, from AWS or from a managed identity.
	ExchangeAudience = "api://AzureADTokenExchange"
	// awsTokenLifetime is asked of STS: long enough that the assertion is
	// reused across token requests that come close together, short enough
	// that one that leaked is soon worthless.
	awsTokenLifetime = 15 * time.Minute
	// awsReuseMargin: an assertion is not presented in its last minutes,
	// so that it cannot expire on its way to Entra.
	awsReuseMargin = 5 * time.Minute
)

// WebIdentityTokenAPI is the one STS operation the credential calls
// (*sts.Client has it).
type WebIdentityTokenAPI interface {
	GetWebIdentityToken(ctx context.Context, in *sts.GetWebIdentityTokenInput, optFns ...func(*sts.Options)) (*sts.GetWebIdentityTokenOutput, error)
}

// AWSCredential returns the credential STINT_AZURE_FEDERATION=aws selects,
// with assertions from api (sts.NewFromConfig in Credential).
func AWSCredential(t config.Tenant, api WebIdentityTokenAPI, opts *azidentity.ClientAssertionCredentialOptions) (azcore.TokenCredential, error) {
	return newFederated(t, &webIdentity{api: api, now: time.Now}, "the AWS token", opts)
}

// awsSTS builds the STS client from the AWS SDK's standard configuration:
// AWS_REGION and the role's credentials, which Lambda sets, and
// AWS_ENDPOINT_URL_STS where it is overridden.
func awsSTS() (*sts.Client, error) {
	cfg, err := awsconfig.LoadDefaultConfig(context.Background())
	if err != nil {
		return nil, fault.Errorf(fault.Invalid, "STINT_AZURE_FEDERATION=aws: AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		// GetWebIdentityToken has no global endpoint.
		return nil, fault.Errorf(fault.Invalid, "STINT_AZURE_FEDERATION=aws: AWS_REGION is not set; STS GetWebIdentityToken is served only by regional endpoints (Lambda sets AWS_REGION)")
	}
	return sts.NewFromConfig(cfg), nil
}

// webIdentity gets assertions from STS and keeps each until awsReuseMargin
// before it expires. Safe for concurrent use; one request at a time.
type webIdentity struct {
	api WebIdentityTokenAPI
	now func() time.Time

	mu       sync.Mutex
	token    string
	expires  time.Time
	iss, sub string
	err      error // of the last request, nil once one succeeds
}

// assertion is azidentity's getAssertion.
func (w *webIdentity) assertion(ctx context.Context) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.token != "" && w.now().Before(w.expires.Add(-awsReuseMargin)) {
		return w.token, nil
	}
	out, err := w.api.GetWebIdentityToken(ctx, &sts.GetWebIdentityTokenInput{
		Audience:         []string{ExchangeAudience},
		SigningAlgorithm: aws.String("RS256"),
		DurationSeconds:  aws.Int32(int32(awsTokenLifetime / time.Second)),
	})
	if err != nil {
		w.err = stsError(err)
		return "", w.err
	}
	if out.WebIdentityToken == nil || out.Expiration == nil {
		w.err = fault.Errorf(fault.Transient, "AWS STS GetWebIdentityToken answered without a token or its expiration")
		return "", w.err
	}
	w.token, w.expires, w.err = *out.WebIdentityToken, *out.Expiration, nil
	w.iss, w.sub = jwtIdentity(w.token)
	return w.token, nil
}

func (w *webIdentity) lastError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// identity is the issuer and subject of the last assertion, for errors.
func (w *webIdentity) identity() (iss, sub string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.iss, w.sub
}

// stsError names what to enable when STS refuses: the account's outbound
// identity federation, or the role's permission.
func stsError(err error) error {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fault.Wrap(fault.Transient, fmt.Errorf("AWS STS GetWebIdentityToken: %w", err))
	}
	switch code := api.ErrorCode(); {
	case code == "OutboundWebIdentityFederationDisabledException":
		return fault.Errorf(fault.Unauthorized, "AWS STS GetWebIdentityToken: IAM outbound identity federation is not enabled in this AWS account: enable it (IAM EnableOutboundWebIdentityFederation, `aws iam enable-outbound-web-identity-federation`) and trust the issuer URL it gives in the app's federated identity credential")
	case slices.Contains([]string{"AccessDenied", "AccessDeniedException"}, code):
		return fault.Errorf(fault.Unauthorized, "AWS STS GetWebIdentityToken: access denied: allow sts:GetWebIdentityToken to the function's IAM role (audience %s, signing algorithm RS256): %s", ExchangeAudience, api.ErrorMessage())
	case api.ErrorFault() == smithy.FaultServer:
		return fault.Wrap(fault.Transient, fmt.Errorf("AWS STS GetWebIdentityToken: %w", err))
	}
	return fault.Errorf(fault.Unauthorized, "AWS STS GetWebIdentityToken: %s: %s", api.ErrorCode(), api.ErrorMessage())
}
