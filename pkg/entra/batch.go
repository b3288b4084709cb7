package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/requestlog"
)

// BatchSize is the most requests one $batch may carry.
const BatchSize = 20

// batchAttempts bounds how often a throttled item is sent again.
const batchAttempts = 5

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers,omitempty"`
	Body      any               `json:"body,omitempty"`
	DependsOn []string          `json:"dependsOn,omitempty"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// AddMembers adds users to a group with $batch, 20 a request; already a
// member is success.
func (c *Client) AddMembers(ctx context.Context, groupID string, userIDs []string) error {
	return c.bulk(ctx, "add members to group "+groupID, userIDs, func(uid string) batchRequest {
		return batchRequest{Method: http.MethodPost, URL: "/groups/" + groupID + "/members/$ref",
			Headers: map[string]string{"Content-Type": "application/json"},
			Body:    map[string]string{"@odata.id": c.endpoint + "/v1.0/directoryObjects/" + uid}}
	}, func(r batchResponse) bool {
		g := graphError{status: r.Status}
		g.code, g.message = itemError(r.Body)
		return alreadyMember(g)
	})
}

// RemoveMembers removes users from a group with $batch, 20 a request; not a
// member is success.
func (c *Client) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	return c.bulk(ctx, "remove members from group "+groupID, userIDs, func(uid string) batchRequest {
		return batchRequest{Method: http.MethodDelete, URL: "/groups/" + groupID + "/members/" + uid + "/$ref"}
	}, func(r batchResponse) bool { return r.Status == http.StatusNotFound })
}

// bulk sends one request per user in batches. Items answered 429, 503 or
// 504 are sent again after the longest Retry-After among them (the SDK
// does not retry items inside a $batch); idempotent answers count as
// success.
func (c *Client) bulk(ctx context.Context, op string, userIDs []string, build func(uid string) batchRequest, idempotent func(batchResponse) bool) error {
	failed := map[string]error{}
	for chunk := range slices.Chunk(userIDs, BatchSize) {
		pending := slices.Clone(chunk)
		for attempt := 1; len(pending) > 0; attempt++ {
			results, err := c.sendBatch(ctx, op, pending, build)
			if err != nil {
				for _, uid := range pending {
					failed[uid] = err
				}
				break
			}
			var again []string
			var wait time.Duration
			for i, uid := range pending {
				r := results[strconv.Itoa(i)]
				switch {
				case r.Status >= 200 && r.Status < 300, idempotent(r):
				case retriable(r.Status) && attempt < batchAttempts:
					again = append(again, uid)
					wait = max(wait, itemRetryAfter(r, attempt))
				default:
					failed[uid] = itemFault(op+": user "+uid, r, permMembership)
				}
			}
			pending = again
			if len(pending) > 0 {
				if err := sleep(ctx, wait); err != nil {
					for _, uid := range pending {
						failed[uid] = fault.Wrap(fault.Transient, fmt.Errorf("entra: %s: %w", op, err))
					}
					break
				}
			}
		}
	}
	if len(failed) > 0 {
		return &engagement.BulkError{Op: "entra: " + op, Failed: failed}
	}
	return nil
}

// sendBatch posts one $batch whose item ids are the positions in uids.
func (c *Client) sendBatch(ctx context.Context, op string, uids []string, build func(string) batchRequest) (map[string]batchResponse, error) {
	reqs := make([]batchRequest, len(uids))
	for i, uid := range uids {
		reqs[i] = build(uid)
		reqs[i].ID = strconv.Itoa(i)
	}
	body, err := json.Marshal(map[string]any{"requests": reqs})
	if err != nil {
		return nil, fmt.Errorf("entra: %s: encode $batch: %w", op, err)
	}
	out, requestID, err := c.postBatch(ctx, op, body)
	if err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "entra: write", "op", op, "items", len(uids), "request_id", requestID)
	return out, nil
}

// postBatch sends a $batch body and returns the answers by item id. The
// envelope is 200 even when items fail; each item has its own status.
func (c *Client) postBatch(ctx context.Context, op string, body []byte) (map[string]batchResponse, string, error) {
	ctx, last := call(ctx)
	raw, err := c.adapter.SendPrimitive(ctx, c.requestInfo(abstractions.POST, "/$batch", body), "[]byte",
		abstractions.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
	if err != nil {
		return nil, "", classify(err, last, op+" ($batch)", permMembership)
	}
	b, _ := raw.([]byte)
	var envelope struct {
		Responses []batchResponse `json:"responses"`
	}
	if err := json.Unmarshal(b, &envelope); err != nil {
		return nil, "", fmt.Errorf("entra: %s: decode $batch answer (request-id %s): %w", op, last.requestID, err)
	}
	out := make(map[string]batchResponse, len(envelope.Responses))
	for _, r := range envelope.Responses {
		out[r.ID] = r
	}
	requestlog.Note(ctx, last.requestID)
	return out, last.requestID, nil
}

func retriable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// itemRetryAfter is the item's Retry-After, else exponential backoff.
func itemRetryAfter(r batchResponse, attempt int) time.Duration {
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	if d := retryAfter(h); d > 0 {
		return d
	}
	return time.Duration(1<<attempt) * time.Second
}

func itemError(body json.RawMessage) (code, message string) {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code, e.Error.Message
}

func itemFault(op string, r batchResponse, permission string) error {
	g := graphError{status: r.Status, header: http.Header{}}
	g.code, g.message = itemError(r.Body)
	for k, v := range r.Headers {
		g.header.Set(k, v)
	}
	return g.fault(op, permission, nil)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// BlockSignIn reads accountEnabled and sets it to false in one $batch (the
// PATCH depends on the GET), so the prior state costs no extra round trip.
func (c *Client) BlockSignIn(ctx context.Context, userID string) (bool, error) {
	op := "block sign-in of " + userID
	body, err := json.Marshal(map[string]any{"requests": []batchRequest{
		{ID: "read", Method: http.MethodGet, URL: "/users/" + userID + "?$select=id,accountEnabled"},
		{ID: "block", Method: http.MethodPatch, URL: "/users/" + userID, DependsOn: []string{"read"},
			Headers: map[string]string{"Content-Type": "application/json"}, Body: map[string]bool{"accountEnabled": false}},
	}})
	if err != nil {
		return false, fmt.Errorf("entra: %s: encode $batch: %w", op, err)
	}
	results, requestID, err := c.postBatch(ctx, op, body)
	if err != nil {
		return false, err
	}
	read, block := results["read"], results["block"]
	if read.Status != http.StatusOK {
		return false, itemFault(op+": read accountEnabled", read, permReadUsers)
	}
	if block.Status != http.StatusNoContent && block.Status != http.StatusOK {
		return false, itemFault(op, block, permEnableDisable)
	}
	var user struct {
		AccountEnabled *bool `json:"accountEnabled"`
	}
	if err := json.Unmarshal(read.Body, &user); err != nil || user.AccountEnabled == nil {
		return false, fmt.Errorf("entra: %s: the user read names no accountEnabled (request-id %s)", op, requestID)
	}
	c.log.InfoContext(ctx, "entra: write", "op", op, "was_enabled", *user.AccountEnabled, "request_id", requestID)
	return *user.AccountEnabled, nil
}
