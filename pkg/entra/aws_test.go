package entra_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sandbox"
	"github.com/stintdev/stint/test/ststub"
)

const (
	awsApp     = "a5a5a5a5-2222-3333-4444-555555555555"
	workerRole = "arn:aws:iam::123456789012:role/stint-worker"
	workerKey  = "AKIAWORKER0000000001"
)

// awsFixture is a sandbox tenant that verifies AWS tokens by discovery,
// the STS stand-in, and an AWS credential for awsApp.
type awsFixture struct {
	ten   *sandbox.Tenant
	srv   *sandbox.Server
	sts   *ststub.Server
	cred  azcore.TokenCredential
	scope string
}

func newAWSFixture(tb testing.TB, fedSubject string) *awsFixture {
	tb.Helper()
	stub, err := ststub.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stub.Close)
	stub.AddRole(workerKey, workerRole)
	ten := sandbox.New(sandbox.Options{TenantID: tenantID, HTTPClient: stub.Client()})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = srv.Close() })
	ten.AddApp(sandbox.App{ClientID: awsApp, Permissions: corePermissions, Federated: []sandbox.FederatedCredential{
		{Issuer: stub.Issuer(), Subject: fedSubject, Audience: entra.ExchangeAudience}}})
	api := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(stub.URL()), HTTPClient: stub.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(workerKey, "not-checked", "session-token")})
	toSandbox := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ten.CAPool()}}}
	cred, err := entra.AWSCredential(config.Tenant{ID: tenantID, ClientID: awsApp}, api, &azidentity.ClientAssertionCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Transport: toSandbox, Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL}},
		DisableInstanceDiscovery: true})
	if err != nil {
		tb.Fatal(err)
	}
	return &awsFixture{ten: ten, srv: srv, sts: stub, cred: cred, scope: srv.URL + "/.default"}
}

func (f *awsFixture) token(scope string) error {
	_, err := f.cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	return err
}

// The role's STS token, verified by the tenant through discovery, buys a
// Graph token; one assertion serves the token requests that follow it.
func TestAWSFederatedCredential(t *testing.T) {
	f := newAWSFixture(t, workerRole)
	if err := f.token(f.scope); err != nil {
		t.Fatalf("GetToken = %v", err)
	}
	if err := f.token(f.srv.URL + "//.default"); err != nil {
		t.Fatalf("GetToken for a second resource = %v", err)
	}
	if got := f.sts.Issued(); got != 1 {
		t.Errorf("STS minted %d tokens, want 1 (the assertion is reused)", got)
	}
}

// Each refusal is one error naming what to set up, and never the token.
func TestAWSFederationRefusals(t *testing.T) {
	tests := []struct {
		name    string
		subject string // of the app's federated credential
		setup   func(*ststub.Server)
		want    []string
	}{
		{name: "federated credential for another role", subject: "arn:aws:iam::123456789012:role/someone-else",
			want: []string{"AADSTS700213", "add one to app " + awsApp, "subject " + workerRole, "audience api://AzureADTokenExchange", "issuer https://127.0.0.1:"}},
		{name: "outbound federation disabled", subject: workerRole, setup: func(s *ststub.Server) { s.SetFederation(false) },
			want: []string{"IAM outbound identity federation is not enabled", "enable-outbound-web-identity-federation"}},
		{name: "role not allowed", subject: workerRole, setup: func(s *ststub.Server) { s.Deny(workerRole) },
			want: []string{"allow sts:GetWebIdentityToken to the function's IAM role"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newAWSFixture(t, tt.subject)
			if tt.setup != nil {
				tt.setup(f.sts)
			}
			err := f.token(f.scope)
			if !fault.Is(err, fault.Unauthorized) {
				t.Fatalf("GetToken = %v, want unauthorized", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error = %q, want it to say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "eyJ") {
				t.Errorf("error = %q repeats the JWT", err)
			}
		})
	}
}

// STINT_AZURE_FEDERATION=aws with a secret is refused by Credential too,
// for a Tenant built in code.
func TestAWSFederationRefusesASecret(t *testing.T) {
	_, err := entra.Credential(config.Tenant{ID: tenantID, ClientID: awsApp, ClientSecret: secret, Federation: config.FederationAWS}, nil)
	if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "cannot be used with AZURE_CLIENT_SECRET") {
		t.Errorf("Credential = %v, want the secret refused", err)
	}
}
