package host

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sandbox"
)

// The sandbox tenant's fixed identities, so a restart finds its state.
const (
	SandboxTenantID = "5a11d0c0-5717-4e5d-8000-000000000001"
	SandboxDomain   = "contoso.onmicrosoft.com"
	sandboxClientID = "5a11d0c0-5717-4e5d-8000-0000000000a1"
	// SandboxBreakGlass is the sandbox's emergency-access account, for
	// STINT_BREAK_GLASS (user:<it>); the demo's policies exclude it.
	SandboxBreakGlass = "5a11d0c0-5717-4e5d-8000-0000000000b1"
	// SandboxAllowedApp is the app the demo lets contractors use (Office
	// 365 Exchange Online's well-known id).
	SandboxAllowedApp = "00000002-0000-0ff1-ce00-000000000000"
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
func (h *Host) startSandbox(ctx context.Context) (*entra.Client, map[string]string, error) {
	groups := SandboxGroups
	if h.o.Config.Groups != nil {
		groups = h.o.Config.Groups
	}
	ten := sandbox.New(sandbox.Options{TenantID: SandboxTenantID, Domain: SandboxDomain})
	path := filepath.Join(h.o.Data, "sandbox.json")
	if err := ten.LoadFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("stint: sandbox state %s: %w (move it and %s.journal away to start afresh)", path, err, filepath.Base(path))
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
	if _, ok := ten.User(SandboxBreakGlass); !ok {
		ten.AddUser(sandbox.User{ID: SandboxBreakGlass, DisplayName: "Break glass", UserPrincipalName: "breakglass@" + SandboxDomain, UserType: "Member", AccountEnabled: true})
	}
	// One app plays the runtime and the operator here: it holds the core
	// permissions and the Conditional Access ones.
	perms := append(entra.Core(), entra.ReadPolicies.Name, entra.WritePolicies.Name)
	ten.AddApp(sandbox.App{ClientID: sandboxClientID, Secret: secret, Permissions: perms})
	ten.PersistTo(path)
	if err := ten.Persist(); err != nil { // what start-up added: the groups, the break-glass account
		return nil, nil, fmt.Errorf("stint: save the sandbox state %s: %w", path, err)
	}
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	h.closers = append(h.closers, srv.Close)
	if err := ten.WriteCA(filepath.Join(h.o.Data, "sandbox-ca.pem")); err != nil {
		return nil, nil, err
	}
	dir, err := entra.NewLocal(entra.LocalTenant{Origin: srv.URL, TenantID: SandboxTenantID, ClientID: sandboxClientID, Secret: secret, Roots: ten.CAPool()},
		entra.Config{Logger: h.o.Log, MaxRetries: 10, Observe: h.obs.graph})
	if err != nil {
		return nil, nil, err
	}
	h.Sandbox = ten
	return dir, groups, nil
}

// SandboxAccount is an account of the sandbox tenant as the demo shows it:
// every user in an allow-listed group, or blocked, with their groups.
type SandboxAccount struct {
	Email   string   `json:"email"`
	Guest   bool     `json:"guest"`
	Enabled bool     `json:"enabled"`
	Groups  []string `json:"groups"`
}

// SandboxAccounts reads the sandbox tenant's accounts that hold an
// allow-listed group or are blocked (nil against a real tenant).
func (h *Host) SandboxAccounts() []SandboxAccount {
	if h.Sandbox == nil {
		return nil
	}
	return SandboxTable(h.Sandbox, h.Groups)
}

// SandboxTable is SandboxAccounts for any sandbox tenant (a saved one, in
// tests).
func SandboxTable(t *sandbox.Tenant, groups map[string]string) []SandboxAccount {
	rows := []SandboxAccount{}
	for _, u := range t.Users() {
		in := []string{}
		for key, gid := range groups {
			if slices.Contains(t.Members(gid), u.ID) {
				in = append(in, key)
			}
		}
		if len(in) == 0 && u.AccountEnabled {
			continue
		}
		slices.Sort(in)
		email := cmp.Or(u.Mail, u.UserPrincipalName)
		rows = append(rows, SandboxAccount{Email: email, Guest: u.UserType == "Guest", Enabled: u.AccountEnabled, Groups: in})
	}
	slices.SortFunc(rows, func(a, b SandboxAccount) int { return strings.Compare(a.Email, b.Email) })
	return rows
}

// AddByHand does in the sandbox tenant what an administrator does in the
// portal: a guest with this address joins the group of key, behind
// stint's back.
func (h *Host) AddByHand(email, key string) error {
	if h.Sandbox == nil {
		return fault.Errorf(fault.Invalid, "stint: only the sandbox tenant can be changed by hand")
	}
	u := h.Sandbox.AddUser(sandbox.User{DisplayName: email, Mail: email, UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
	return h.Sandbox.AddMember(h.Groups[key], u.ID)
}
