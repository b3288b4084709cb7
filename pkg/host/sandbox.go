package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/sandbox"
)

// The sandbox tenant's fixed identities, so a restart finds its state.
const (
	SandboxTenantID = "5a11d0c0-5717-4e5d-8000-000000000001"
	SandboxDomain   = "contoso.onmicrosoft.com"
	sandboxClientID = "5a11d0c0-5717-4e5d-8000-0000000000a1"
)

// SandboxGroups is the allow-list used against the sandbox when
// STINT_GROUPS is unset: two groups the sandbox creates on first start.
var SandboxGroups = map[string]string{
	"contractor-access": "5a11d0c0-5717-4e5d-8000-0000000000c1",
	"github-org":        "5a11d0c0-5717-4e5d-8000-0000000000c2",
}

// startSandbox loads (or creates) the sandbox tenant under the data
// directory, serves it on a loopback port over TLS, and returns a Graph
// adapter for it: the same code path as a real tenant, over real HTTPS.
func (h *Host) startSandbox(ctx context.Context) (engagement.Directory, map[string]string, error) {
	groups := SandboxGroups
	if os.Getenv("STINT_GROUPS") != "" {
		var err error
		if groups, err = config.Groups(); err != nil {
			return nil, nil, err
		}
	}
	ten := sandbox.New(sandbox.Options{TenantID: SandboxTenantID, Domain: SandboxDomain})
	path := filepath.Join(h.o.Data, "sandbox.json")
	if f, err := os.Open(path); err == nil {
		err = ten.Load(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("stint: sandbox state %s: %w (move it away to start afresh)", path, err)
		}
	}
	for key, id := range groups {
		if _, ok := ten.Group(id); !ok {
			ten.AddGroup(sandbox.Group{ID: id, DisplayName: key, SecurityEnabled: true})
		}
	}
	secretBytes := make([]byte, 24)
	if _, err := rand.Read(secretBytes); err != nil {
		return nil, nil, err
	}
	secret := hex.EncodeToString(secretBytes)
	ten.AddApp(sandbox.App{ClientID: sandboxClientID, Secret: secret, Permissions: []string{
		"User.Read.All", "User.Invite.All", "GroupMember.ReadWrite.All", "User.EnableDisableAccount.All", "User.RevokeSessions.All"}})
	ten.PersistTo(path)
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	h.closers = append(h.closers, srv.Close)
	if err := ten.WriteCA(filepath.Join(h.o.Data, "sandbox-ca.pem")); err != nil {
		return nil, nil, err
	}
	dir, err := entra.NewLocal(entra.LocalTenant{Origin: srv.URL, TenantID: SandboxTenantID, ClientID: sandboxClientID, Secret: secret, Roots: ten.CAPool()},
		entra.Config{Logger: h.o.Log, MaxRetries: 10})
	if err != nil {
		return nil, nil, err
	}
	h.Sandbox = ten
	return dir, groups, nil
}
