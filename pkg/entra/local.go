package entra

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// LocalTenant is a token service and Graph served on one origin by a CA of
// its own: the sandbox tenant, reached by the host and by tests without
// touching the process's environment.
type LocalTenant struct {
	// Origin is the server's URL, e.g. https://127.0.0.1:43123: the
	// authority host and the Graph endpoint both.
	Origin   string
	TenantID string
	ClientID string
	Secret   string
	// Roots are the CAs to trust for Origin.
	Roots *x509.CertPool
}

// NewLocal builds a client for a LocalTenant: a client-secret credential
// (instance discovery off) and the adapter, both trusting only Roots.
func NewLocal(t LocalTenant, cfg Config) (*Client, error) {
	// Keep a connection for each concurrent worker: the default of two idle
	// connections per host had most Graph calls open a new TLS connection.
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: t.Roots}, MaxIdleConnsPerHost: 64}
	cred, err := azidentity.NewClientSecretCredential(t.TenantID, t.ClientID, t.Secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: t.Origin}, Transport: &http.Client{Transport: transport}},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		return nil, err
	}
	cfg.Endpoint, cfg.Credential, cfg.Transport = t.Origin, cred, transport
	return New(cfg)
}
