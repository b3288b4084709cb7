package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Tenant is where the policies live: Graph's
// /identity/conditionalAccess/policies, in its own JSON (entra.Client).
type Tenant interface {
	ListPolicies(ctx context.Context) ([]json.RawMessage, error)
	CreatePolicy(ctx context.Context, body []byte) (json.RawMessage, error)
	UpdatePolicy(ctx context.Context, id string, body []byte) error
}

// Ledger is where stint records the policies it owns and writes its audit
// lines (engagement.Ledger).
type Ledger interface {
	Marks(ctx context.Context, prefix string) (map[string]string, error)
	SetMark(ctx context.Context, key, value string) error
	Append(ctx context.Context, entries ...engagement.AuditEntry) error
}

const (
	// ownedMark + key holds the id of the policy stint created for key.
	ownedMark = "policy/"
	// enforcedMark records `stint policy apply --enforce`.
	enforcedMark = "policy-enforced"
)

// Action is what a plan does with one policy.
type Action string

// The actions.
const (
	Create   Action = "create"
	Recreate Action = "recreate" // stint created it; it was deleted by hand
	Update   Action = "update"
	InSync   Action = "in sync"
	Conflict Action = "conflict" // a policy stint did not create has its name
)

// Change is one line of a plan.
type Change struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Action Action `json:"action"`
	ID     string `json:"id,omitempty"`
	// Fields differ between the tenant and stint (update).
	Fields []string `json:"fields,omitempty"`
	Detail string   `json:"detail,omitempty"`
}

// Plan compares the desired policies with the tenant.
type Plan struct {
	// Enforced: stint's policies are wanted enabled, not report-only.
	Enforced bool     `json:"enforced"`
	Changes  []Change `json:"changes"`
}

// Pending reports whether applying would write.
func (p Plan) Pending() bool {
	return slices.ContainsFunc(p.Changes, func(c Change) bool { return c.Action != InSync })
}

// Manager plans and applies the desired policies, and watches for drift.
type Manager struct {
	Tenant  Tenant
	Ledger  Ledger
	Desired []Desired
	// Actor is who acts, in the audit trail ("stint policy apply",
	// "stint:reconcile").
	Actor string
	Log   *slog.Logger
	Now   func() time.Time
}

// remote is a policy as the tenant holds it.
type remote struct {
	id, name, state string
	body            map[string]any
}

// Plan compares the desired policies with the tenant. enforce asks for
// enabled policies even before the choice is recorded.
func (m *Manager) Plan(ctx context.Context, enforce bool) (Plan, error) {
	marks, err := m.Ledger.Marks(ctx, "policy")
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Enforced: enforce || marks[enforcedMark] == Enabled}
	tenant, err := read(ctx, m.Tenant)
	if err != nil {
		return Plan{}, err
	}
	ownedBy := map[string]string{} // policy id -> key it is recorded under
	for k, id := range marks {
		if key, ok := strings.CutPrefix(k, ownedMark); ok {
			ownedBy[id] = key
		}
	}
	for _, d := range m.Desired {
		want := m.want(d, p.Enforced)
		c := Change{Key: d.Key, Name: d.Name}
		id, owned := marks[ownedMark+d.Key]
		if !owned {
			// A file renamed (or exported and read back) names a policy
			// stint recorded under another key: it is still stint's.
			j := slices.IndexFunc(tenant, func(r remote) bool { return strings.EqualFold(r.name, d.Name) && ownedBy[r.id] != "" })
			if j >= 0 {
				id, owned = tenant[j].id, true
				c.Detail = "stint's, recorded as " + ownedBy[id] + "; now recorded as " + d.Key
			}
		}
		i := slices.IndexFunc(tenant, func(r remote) bool { return r.id == id })
		switch {
		case owned && i >= 0:
			c.ID, c.Fields = id, differences(want, tenant[i].body)
			c.Action = InSync
			if len(c.Fields) > 0 {
				c.Action = Update
			}
		case owned:
			c.Action, c.Detail = Recreate, "stint created it as "+id+"; it was deleted by hand"
		default:
			c.Action = Create
			if j := slices.IndexFunc(tenant, func(r remote) bool { return strings.EqualFold(r.name, d.Name) }); j >= 0 {
				c.Action, c.ID = Conflict, tenant[j].id
				c.Detail = "a policy stint did not create has this name; stint will not touch it: rename or remove it"
			}
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

// Apply makes the tenant match the plan: it creates what is missing
// (report-only, or enabled once enforcement is chosen) and updates what
// differs; in sync, it writes nothing. enforce records the choice to
// enforce first, so that later plans, applies and the reconcile want
// enabled policies. A conflict stops it before any write.
func (m *Manager) Apply(ctx context.Context, enforce bool) (Plan, error) {
	p, err := m.Plan(ctx, enforce)
	if err != nil {
		return p, err
	}
	for _, c := range p.Changes {
		if c.Action == Conflict {
			return p, fault.Errorf(fault.Conflict, "policy %q: %s (id %s); nothing was written", c.Name, c.Detail, c.ID)
		}
	}
	if enforce {
		if err := m.Ledger.SetMark(ctx, enforcedMark, Enabled); err != nil {
			return p, err
		}
	}
	for _, c := range p.Changes {
		if (c.Action == InSync || c.Action == Update) && c.Detail != "" { // adopted under its new key
			if err := m.Ledger.SetMark(ctx, ownedMark+c.Key, c.ID); err != nil {
				return p, err
			}
		}
	}
	return p, m.write(ctx, p, engagement.PolicyCreated, engagement.PolicyUpdated)
}

// write carries out a plan's creates and updates, one at a time, auditing
// each as created or updated.
func (m *Manager) write(ctx context.Context, p Plan, created, updated engagement.Action) error {
	byKey := map[string]Desired{}
	for _, d := range m.Desired {
		byKey[d.Key] = d
	}
	for i, c := range p.Changes {
		body, _ := json.Marshal(m.want(byKey[c.Key], p.Enforced))
		switch c.Action {
		case Create, Recreate:
			raw, err := m.Tenant.CreatePolicy(ctx, body)
			if err != nil {
				return err
			}
			var made struct{ ID string }
			if err := json.Unmarshal(raw, &made); err != nil || made.ID == "" {
				return fault.Errorf(fault.Internal, "policy %q: Graph's answer to its creation names no id", c.Name)
			}
			if err := m.Ledger.SetMark(ctx, ownedMark+c.Key, made.ID); err != nil {
				return fmt.Errorf("policy %q was created as %s but could not be recorded as stint's (record the mark %s%s = %s, or delete it): %w", c.Name, made.ID, ownedMark, c.Key, made.ID, err)
			}
			p.Changes[i].ID = made.ID
			if err := m.audit(ctx, created, fmt.Sprintf("%s %q (%s) as %s", verb(c.Action), c.Name, made.ID, stateWord(p.Enforced))); err != nil {
				return err
			}
		case Update:
			if err := m.Tenant.UpdatePolicy(ctx, c.ID, body); err != nil {
				return err
			}
			if err := m.audit(ctx, updated, fmt.Sprintf("updated %q (%s): %s", c.Name, c.ID, strings.Join(c.Fields, ", "))); err != nil {
				return err
			}
		}
	}
	return nil
}

// DriftOptions says what Drift does besides looking.
type DriftOptions struct {
	// Repair puts drifted policies back.
	Repair bool
	// DryRun writes nothing, the audit trail included.
	DryRun bool
}

// Drift lists stint's policies that differ from the desired ones or were
// deleted, writes a policy.drift line for each, and with o.Repair puts
// them back. Policies never applied are not drift: that is the plan's
// business.
func (m *Manager) Drift(ctx context.Context, o DriftOptions) ([]Change, error) {
	p, err := m.Plan(ctx, false)
	if err != nil {
		return nil, err
	}
	var drifted []Change
	for _, c := range p.Changes {
		if c.Action != Update && c.Action != Recreate {
			continue
		}
		drifted = append(drifted, c)
		if o.DryRun {
			continue
		}
		what := "deleted"
		if c.Action == Update {
			what = "changed: " + strings.Join(c.Fields, ", ")
		}
		if err := m.audit(ctx, engagement.PolicyDrift, fmt.Sprintf("%q (%s) was %s by hand", c.Name, c.ID, what)); err != nil {
			return drifted, err
		}
		m.Log.WarnContext(ctx, "policy drift", "policy", c.Name, "id", c.ID, "action", string(c.Action), "fields", c.Fields)
	}
	if !o.Repair || o.DryRun || len(drifted) == 0 {
		return drifted, nil
	}
	return drifted, m.write(ctx, Plan{Enforced: p.Enforced, Changes: drifted}, engagement.PolicyRepaired, engagement.PolicyRepaired)
}

// want is d with the state stint wants.
func (m *Manager) want(d Desired, enforced bool) map[string]any {
	body := map[string]any{}
	for k, v := range d.Body {
		body[k] = v
	}
	body["state"] = ReportOnly
	if enforced {
		body["state"] = Enabled
	}
	return body
}

// read lists the tenant's policies.
func read(ctx context.Context, t Tenant) ([]remote, error) {
	raws, err := t.ListPolicies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]remote, 0, len(raws))
	for _, raw := range raws {
		r, err := parse(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func parse(raw json.RawMessage) (remote, error) {
	var body map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return remote{}, fault.Errorf(fault.Internal, "a Conditional Access policy from Graph is not a JSON object: %v", err)
	}
	r := remote{body: body}
	r.id, _ = body["id"].(string)
	r.name, _ = body["displayName"].(string)
	r.state, _ = body["state"].(string)
	return r, nil
}

// audit writes one line of the trail; the policies are nobody's, so
// their lines name no contractor ("-", as the sweep's summary).
func (m *Manager) audit(ctx context.Context, action engagement.Action, detail string) error {
	e := engagement.AuditEntry{At: m.Now().UTC(), Contractor: "-", Actor: m.Actor, Action: action, Detail: detail}
	if err := m.Ledger.Append(ctx, e); err != nil {
		return fmt.Errorf("policy: the audit line %s %q was not written: %w", action, detail, err)
	}
	return nil
}

func verb(a Action) string {
	if a == Recreate {
		return "recreated (it was deleted by hand)"
	}
	return "created"
}

func stateWord(enforced bool) string {
	if enforced {
		return "enabled"
	}
	return "report-only"
}
