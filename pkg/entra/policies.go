package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/stintdev/stint/pkg/policy"
)

// Conditional Access policies, in Graph's own JSON (pkg/policy compares
// and writes them as such, so nothing is lost in a model's round trip):
// https://learn.microsoft.com/graph/api/resources/conditionalaccesspolicy
//
// This API is throttled at about one request per second per tenant, and
// its 429 answers carry no Retry-After: the SDK's retry handler then backs
// off on its own (3 s, doubling, with jitter), within the call's deadline.

const policiesPath = "/identity/conditionalAccess/policies"

var (
	permReadPolicies  = ReadPolicies.Name
	permWritePolicies = WritePolicies.Name + " (with " + ReadPolicies.Name + ")"
)

var _ policy.Tenant = (*Client)(nil)

var errorMapping = abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// ListPolicies reads every Conditional Access policy of the tenant.
func (c *Client) ListPolicies(ctx context.Context) ([]json.RawMessage, error) {
	var out []json.RawMessage
	info := c.requestInfo(abstractions.GET, policiesPath, nil)
	for page := 1; ; page++ {
		op := fmt.Sprintf("list Conditional Access policies (page %d)", page)
		cctx, last := call(ctx)
		raw, err := c.adapter.SendPrimitive(cctx, info, "[]byte", errorMapping)
		if err != nil {
			return nil, classify(err, last, op, permReadPolicies)
		}
		b, _ := raw.([]byte)
		var body struct {
			Value    []json.RawMessage `json:"value"`
			NextLink string            `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			return nil, fmt.Errorf("entra: %s: decode the answer (request-id %s): %w", op, last.requestID, err)
		}
		out = append(out, body.Value...)
		if body.NextLink == "" {
			return out, nil
		}
		next, err := url.Parse(body.NextLink)
		if err != nil {
			return nil, fmt.Errorf("entra: %s: next link %q: %w", op, body.NextLink, err)
		}
		info = c.requestInfo(abstractions.GET, "", nil)
		info.SetUri(*next)
	}
}

// CreatePolicy creates a policy and returns it as Graph made it (with its
// id).
func (c *Client) CreatePolicy(ctx context.Context, body []byte) (json.RawMessage, error) {
	op := "create a Conditional Access policy"
	ctx, last := call(ctx)
	raw, err := c.adapter.SendPrimitive(ctx, c.requestInfo(abstractions.POST, policiesPath, body), "[]byte", errorMapping)
	if err != nil {
		return nil, classify(err, last, op, permWritePolicies)
	}
	c.wrote(ctx, op, last)
	b, _ := raw.([]byte)
	return b, nil
}

// UpdatePolicy changes the properties body holds (Graph answers 204).
func (c *Client) UpdatePolicy(ctx context.Context, id string, body []byte) error {
	op := "update Conditional Access policy " + id
	ctx, last := call(ctx)
	if _, err := c.adapter.SendPrimitive(ctx, c.requestInfo(abstractions.PATCH, policiesPath+"/"+url.PathEscape(id), body), "[]byte", errorMapping); err != nil {
		return classify(err, last, op, permWritePolicies)
	}
	c.wrote(ctx, op, last)
	return nil
}
