package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Conditional Access policies on the wire:
// /identity/conditionalAccess/policies[/{id}] (list, create, get, update,
// delete), https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy.

// policyEntity is a policy as Graph answers it.
type policyEntity struct {
	Context string `json:"@odata.context,omitempty"`
	*Policy
	// TemplateID is always null: the sandbox has no policy templates.
	TemplateID *string `json:"templateId"`
}

func (t *Tenant) routeIdentity(c *gcall, segs []string) *gresp {
	switch {
	case len(segs) == 0:
		return c.methodNotAllowed()
	case !strings.EqualFold(segs[0], "conditionalAccess"):
		return c.noSegment(segs[0])
	case len(segs) == 1:
		return c.methodNotAllowed()
	case !strings.EqualFold(segs[1], "policies"):
		return c.noSegment(segs[1])
	case len(segs) == 2:
		switch c.method {
		case http.MethodGet:
			return t.listPolicies(c)
		case http.MethodPost:
			return t.createPolicy(c)
		}
		return c.methodNotAllowed()
	case len(segs) > 3:
		return c.noSegment(segs[3])
	}
	switch id := segs[2]; c.method {
	case http.MethodGet:
		return t.getPolicy(c, id)
	case http.MethodPatch:
		return t.patchPolicy(c, id)
	case http.MethodDelete:
		return t.deletePolicy(c, id)
	}
	return c.methodNotAllowed()
}

func (c *gcall) policiesContext() string {
	return c.metadata() + "#identity/conditionalAccess/policies"
}

func (t *Tenant) listPolicies(c *gcall) *gresp {
	if r := c.require(permReadPolicies...); r != nil {
		return r
	}
	if _, bad := c.options(); bad != nil {
		return bad
	}
	t.mu.Lock()
	items := make([]policyEntity, len(t.dir.policies))
	for i, p := range t.dir.policies {
		q := p.clone()
		items[i] = policyEntity{Policy: &q}
	}
	t.mu.Unlock()
	return c.ok(http.StatusOK, object{{"@odata.context", c.policiesContext()}, {"value", items}})
}

func (t *Tenant) getPolicy(c *gcall, id string) *gresp {
	if r := c.require(permReadPolicies...); r != nil {
		return r
	}
	if _, bad := c.options(); bad != nil {
		return bad
	}
	p, ok := t.Policy(id)
	if !ok {
		return c.notFound(id)
	}
	return c.ok(http.StatusOK, policyEntity{Context: c.policiesContext() + "/$entity", Policy: &p})
}

// policyBody decodes and checks a request body.
func (c *gcall) policyBody() (map[string]any, *gresp) {
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(c.body))
	dec.UseNumber()
	if dec.Decode(&body) != nil || body == nil {
		return nil, c.badJSON()
	}
	checked, err := checkPolicyBody(body)
	if err != nil {
		return nil, c.fail(http.StatusBadRequest, err.code, err.msg)
	}
	return checked, nil
}

func (t *Tenant) createPolicy(c *gcall) *gresp {
	if r := c.requireAll(permWritePolicies...); r != nil {
		return r
	}
	body, bad := c.policyBody()
	if bad != nil {
		return bad
	}
	p, err := policyFromBody(body)
	if err != nil {
		return c.fail(http.StatusBadRequest, err.code, err.msg)
	}
	p.ID, p.CreatedDateTime = newGUID(), c.now
	t.mu.Lock()
	t.dir.putPolicy(p)
	t.mu.Unlock()
	return c.ok(http.StatusCreated, policyEntity{Context: c.policiesContext() + "/$entity", Policy: &p})
}

// patchPolicy merges the body into the policy (see mergePatch), checks the
// result as a whole and stores it with modifiedDateTime now.
func (t *Tenant) patchPolicy(c *gcall, id string) *gresp {
	if r := c.requireAll(permWritePolicies...); r != nil {
		return r
	}
	patch, bad := c.policyBody()
	if bad != nil {
		return bad
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.dir.policyByID[strings.ToLower(id)]
	if old == nil {
		return c.notFound(id)
	}
	var current map[string]any
	if err := json.Unmarshal(mustJSON(old), &current); err != nil {
		panic("sandbox: policy wire form: " + err.Error())
	}
	mergePatch(current, patch)
	p, err := policyFromBody(current)
	if err != nil {
		return c.fail(http.StatusBadRequest, err.code, err.msg)
	}
	now := c.now
	p.ID, p.CreatedDateTime, p.ModifiedDateTime = old.ID, old.CreatedDateTime, &now
	t.dir.putPolicy(p)
	return c.noContent()
}

func (t *Tenant) deletePolicy(c *gcall, id string) *gresp {
	if r := c.requireAll(permDeletePolicies...); r != nil {
		return r
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dir.deletePolicy(id) {
		return c.notFound(id)
	}
	return c.noContent()
}
