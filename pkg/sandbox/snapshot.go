package sandbox

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Snapshots: the directory as JSON, so a sandbox can be saved and
// restored. A snapshot holds the tenant id and domain, users, groups with
// their members in order, apps (client secrets in clear, certificates and
// federated keys as public PEM), invitations and Conditional Access
// policies. It does not hold the
// token-signing key, the CA, faults, throttling state or the journal:
// tokens issued before a Load into another Tenant do not verify after it.

const snapshotVersion = 1

type snapshot struct {
	Version     int             `json:"version"`
	TenantID    string          `json:"tenantId"`
	Domain      string          `json:"domain"`
	Users       []User          `json:"users"`
	Groups      []groupSnapshot `json:"groups"`
	Apps        []appSnapshot   `json:"apps"`
	Invitations []Invitation    `json:"invitations"`
	// Policies are the Conditional Access policies in creation order;
	// snapshots saved before they existed load with none.
	Policies []Policy `json:"policies"`
}

type groupSnapshot struct {
	Group
	Members []string `json:"members"`
}

type appSnapshot struct {
	ClientID       string        `json:"clientId"`
	Secret         string        `json:"secret,omitempty"`
	CertificatePEM string        `json:"certificatePem,omitempty"`
	Federated      []fedSnapshot `json:"federated,omitempty"`
	Permissions    []string      `json:"permissions"`
}

type fedSnapshot struct {
	Issuer   string `json:"issuer"`
	Subject  string `json:"subject"`
	Audience string `json:"audience"`
	KeyPEM   string `json:"keyPem"`
}

// Save writes the directory as a JSON snapshot.
func (t *Tenant) Save(w io.Writer) error {
	t.mu.Lock()
	s := t.dir.snapshot()
	t.mu.Unlock()
	b, err := s.encode()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("sandbox: save: %w", err)
	}
	return nil
}

// snapshot copies the directory (the tenant locked); encode writes the
// copy out, unlocked.
func (d *directory) snapshot() snapshotCopy {
	s := snapshotCopy{snapshot: snapshot{Version: snapshotVersion, TenantID: d.TenantID, Domain: d.Domain,
		Users: make([]User, 0, len(d.users)), Groups: make([]groupSnapshot, 0, len(d.groups)), Invitations: slices.Clone(d.invitations),
		Policies: make([]Policy, len(d.policies))}}
	for i, p := range d.policies {
		s.Policies[i] = p.clone()
	}
	for _, u := range d.users {
		s.Users = append(s.Users, u.clone())
	}
	for _, g := range d.groups {
		gs := groupSnapshot{Group: g.Group, Members: make([]string, len(g.members))}
		for i, m := range g.members {
			gs.Members[i] = m.userID
		}
		s.Groups = append(s.Groups, gs)
	}
	for _, a := range d.apps {
		s.apps = append(s.apps, *a)
	}
	return s
}

// snapshotCopy is a snapshot whose apps are still to be written.
type snapshotCopy struct {
	snapshot
	apps []App
}

func (s snapshotCopy) encode() ([]byte, error) {
	slices.SortFunc(s.apps, func(a, b App) int { return strings.Compare(a.ClientID, b.ClientID) })
	s.Apps = []appSnapshot{}
	for _, a := range s.apps {
		as, err := saveApp(a)
		if err != nil {
			return nil, err
		}
		s.Apps = append(s.Apps, as)
	}
	if s.Invitations == nil {
		s.Invitations = []Invitation{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s.snapshot); err != nil {
		return nil, fmt.Errorf("sandbox: save: %w", err)
	}
	return b.Bytes(), nil
}

func saveApp(a App) (appSnapshot, error) {
	as := appSnapshot{ClientID: a.ClientID, Secret: a.Secret, Permissions: a.Permissions}
	if a.Certificate != nil {
		as.CertificatePEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Certificate.Raw}))
	}
	for _, f := range a.Federated {
		if f.Key == nil { // found by discovery
			as.Federated = append(as.Federated, fedSnapshot{Issuer: f.Issuer, Subject: f.Subject, Audience: f.Audience})
			continue
		}
		der, err := x509.MarshalPKIXPublicKey(f.Key)
		if err != nil {
			return as, fmt.Errorf("sandbox: save app %s: federated key: %w", a.ClientID, err)
		}
		as.Federated = append(as.Federated, fedSnapshot{Issuer: f.Issuer, Subject: f.Subject, Audience: f.Audience,
			KeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	}
	return as, nil
}

// Load replaces the directory (tenant id, domain, users, groups, members,
// apps, invitations, Conditional Access policies) with a snapshot written by Save. On error the tenant
// is unchanged.
func (t *Tenant) Load(r io.Reader) error {
	d, err := decodeSnapshot(r)
	if err != nil {
		return err
	}
	t.replace(d)
	return nil
}

// replace puts d in place of the directory. A persisted tenant writes it
// whole at its next flush.
func (t *Tenant) replace(d directory) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.dir.changes; c != nil {
		c.full = true
		d.changes = c
	}
	t.dir = d
}

func decodeSnapshot(r io.Reader) (directory, error) {
	var s snapshot
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return directory{}, fmt.Errorf("sandbox: load: %w", err)
	}
	if s.Version != snapshotVersion {
		return directory{}, fmt.Errorf("sandbox: load: snapshot version %d, want %d", s.Version, snapshotVersion)
	}
	if s.TenantID == "" || s.Domain == "" {
		return directory{}, errors.New("sandbox: load: snapshot has no tenant id or domain")
	}
	d := newDirectory(s.TenantID, s.Domain)
	for _, u := range s.Users {
		if u.ID == "" || u.UserPrincipalName == "" {
			return d, errors.New("sandbox: load: a user has no id or userPrincipalName")
		}
		if d.userByID[strings.ToLower(u.ID)] != nil {
			return d, fmt.Errorf("sandbox: load: user %s appears twice", u.ID)
		}
		d.putUser(u)
	}
	for _, gs := range s.Groups {
		if gs.ID == "" || d.groupByID[strings.ToLower(gs.ID)] != nil {
			return d, fmt.Errorf("sandbox: load: group %q has no id or appears twice", gs.ID)
		}
		d.putGroup(gs.Group)
		g := d.groupByID[strings.ToLower(gs.ID)]
		for _, uid := range gs.Members {
			u := d.userByID[strings.ToLower(uid)]
			if u == nil {
				return d, fmt.Errorf("sandbox: load: group %s lists unknown member %s", gs.ID, uid)
			}
			d.addMember(g, u.ID)
		}
	}
	for _, as := range s.Apps {
		a, err := loadApp(as)
		if err != nil {
			return d, err
		}
		d.apps[strings.ToLower(a.ClientID)] = &a
	}
	d.invitations = s.Invitations
	for _, p := range s.Policies {
		if p.ID == "" || d.policyByID[strings.ToLower(p.ID)] != nil {
			return d, fmt.Errorf("sandbox: load: policy %q has no id or appears twice", p.ID)
		}
		p.normalize()
		d.putPolicy(p)
	}
	return d, nil
}

func loadApp(as appSnapshot) (App, error) {
	a := App{ClientID: as.ClientID, Secret: as.Secret, Permissions: as.Permissions}
	if as.CertificatePEM != "" {
		b, _ := pem.Decode([]byte(as.CertificatePEM))
		if b == nil {
			return a, fmt.Errorf("sandbox: load app %s: certificate is not PEM", as.ClientID)
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return a, fmt.Errorf("sandbox: load app %s: %w", as.ClientID, err)
		}
		a.Certificate = cert
	}
	for _, f := range as.Federated {
		if f.KeyPEM == "" {
			a.Federated = append(a.Federated, FederatedCredential{Issuer: f.Issuer, Subject: f.Subject, Audience: f.Audience})
			continue
		}
		b, _ := pem.Decode([]byte(f.KeyPEM))
		if b == nil {
			return a, fmt.Errorf("sandbox: load app %s: federated key is not PEM", as.ClientID)
		}
		key, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return a, fmt.Errorf("sandbox: load app %s: %w", as.ClientID, err)
		}
		a.Federated = append(a.Federated, FederatedCredential{Issuer: f.Issuer, Subject: f.Subject, Audience: f.Audience, Key: key})
	}
	return a, nil
}
