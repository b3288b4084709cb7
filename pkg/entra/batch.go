package entra

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	abstractions "github.com/microsoft/kiota-abstractions-go"

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

// RemoveMembers removes users from a group with $batch, 20 a request; not a
// member is success.
func (c *Client) RemoveMembers(ctx context.Context, groupID string, userIDs []string) error {
	return c.bulk(ctx, "remove members from group "+groupID, userIDs, func(uid string) batchRequest {
		return removal(groupID, uid)
	}, notMember)
}

func removal(groupID, userID string) batchRequest {
	return batchRequest{Method: http.MethodDelete, URL: "/groups/" + groupID + "/members/" + userID + "/$ref"}
}

func notMember(r batchResponse) bool { return r.Status == http.StatusNotFound }

// bulk sends one request per user; idempotent answers count as success.
func (c *Client) bulk(ctx context.Context, op string, userIDs []string, build func(uid string) batchRequest, idempotent func(batchResponse) bool) error {
	reqs := make([]batchRequest, len(userIDs))
	for i, uid := range userIDs {
		reqs[i] = build(uid)
		reqs[i].ID = strconv.Itoa(i)
	}
	results, failed := c.batch(ctx, op, reqs)
	errs := map[string]error{}
	for i, uid := range userIDs {
		id := strconv.Itoa(i)
		if err, ok := failed[id]; ok {
			errs[uid] = err
		} else if r := results[id]; !ok2xx(r.Status) && !idempotent(r) {
			errs[uid] = itemFault(op+": user "+uid, r, permMembership)
		}
	}
	if len(errs) > 0 {
		return &engagement.BulkError{Op: "entra: " + op, Failed: errs}
	}
	return nil
}

func ok2xx(status int) bool { return status >= 200 && status < 300 }

// batch sends requests in $batch envelopes of up to BatchSize. Items
// answered 429, 503 or 504 are sent again after the longest Retry-After
// among them (the SDK does not retry items inside a $batch), up to
// batchAttempts times. It returns each item's last answer by id, and the
// items whose envelope failed with the error (they have no answer).
func (c *Client) batch(ctx context.Context, op string, reqs []batchRequest) (map[string]batchResponse, map[string]error) {
	answers, failed := map[string]batchResponse{}, map[string]error{}
	for chunk := range slices.Chunk(reqs, BatchSize) {
		pending := slices.Clone(chunk)
		for attempt := 1; len(pending) > 0; attempt++ {
			results, err := c.sendBatch(ctx, op, pending)
			if err != nil {
				for _, r := range pending {
					failed[r.ID] = err
				}
				break
			}
			c.observeItems(pending, results)
			var again []batchRequest
			var wait time.Duration
			limited := false
			for _, r := range pending {
				res := results[r.ID]
				answers[r.ID] = res
				if retriable(res.Status) && attempt < batchAttempts {
					again = append(again, r)
					wait = max(wait, itemRetryAfter(res, attempt))
				}
				limited = limited || res.Status == http.StatusTooManyRequests && writeLimited(itemHeader(res))
			}
			if limited {
				c.pace.limited(ctx, c.log, wait)
			}
			pending = again
			if len(pending) > 0 {
				if err := sleep(ctx, wait); err != nil {
					for _, r := range pending {
						failed[r.ID] = fault.Wrap(fault.Transient, fmt.Errorf("entra: %s: %w", op, err))
					}
					break
				}
			}
		}
	}
	return answers, failed
}

// sendBatch posts one $batch of requests, which carry their ids.
func (c *Client) sendBatch(ctx context.Context, op string, reqs []batchRequest) (map[string]batchResponse, error) {
	body, err := json.Marshal(map[string]any{"requests": reqs})
	if err != nil {
		return nil, fmt.Errorf("entra: %s: encode $batch: %w", op, err)
	}
	out, requestID, err := c.postBatch(withWrites(ctx, writes(reqs)), op, body)
	if err != nil {
		return nil, err
	}
	c.log.InfoContext(ctx, "entra: write", "op", op, "items", len(reqs), "request_id", requestID)
	return out, nil
}

// postBatch sends a $batch body and returns the answers by item id. The
// envelope is 200 even when items fail; each item has its own status.
func (c *Client) postBatch(ctx context.Context, op string, body []byte) (map[string]batchResponse, string, error) {
	ctx, last := call(ctx)
	raw, err := c.adapter.SendPrimitive(ctx, c.requestInfo(abstractions.POST, "/$batch", body), "[]byte", errorMappings)
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

// writes counts the requests that are writes: Graph charges each item of
// a $batch to the write quota, the envelope not at all.
func writes(reqs []batchRequest) int {
	n := 0
	for _, r := range reqs {
		if r.Method != http.MethodGet {
			n++
		}
	}
	return n
}

func retriable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

// itemRetryAfter is the item's Retry-After, else exponential backoff.
func itemRetryAfter(r batchResponse, attempt int) time.Duration {
	if d := retryAfter(itemHeader(r)); d > 0 {
		return d
	}
	return time.Duration(1<<attempt) * time.Second
}

// itemHeader is an item's headers as an http.Header.
func itemHeader(r batchResponse) http.Header {
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return h
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
	g := graphError{status: r.Status, header: itemHeader(r)}
	g.code, g.message = itemError(r.Body)
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

// RemoveAndRead removes the user from the groups and reads the account in
// one $batch (more for over 19 groups): the read decides, from the account
// as it is now, whether ending its access blocks sign-in (a guest) or
// revokes sessions (a member), and whether an administrator had blocked it
// already. The read and the removals do not depend on each other.
func (c *Client) RemoveAndRead(ctx context.Context, userID string, groupIDs []string) (engagement.User, error) {
	op := "remove " + userID + " from its groups and read it"
	reqs := []batchRequest{{ID: "read", Method: http.MethodGet, URL: "/users/" + userID + "?$select=" + strings.Join(userFields, ",")}}
	for _, gid := range groupIDs {
		r := removal(gid, userID)
		r.ID = gid
		reqs = append(reqs, r)
	}
	results, failed := c.batch(ctx, op, reqs)
	if err, ok := failed["read"]; ok {
		return engagement.User{}, err
	}
	read := results["read"]
	if read.Status != http.StatusOK {
		return engagement.User{}, itemFault(op+": read the account", read, permReadUsers)
	}
	u, err := decodeUser(read.Body)
	if err != nil {
		return engagement.User{}, fmt.Errorf("entra: %s: %w", op, err)
	}
	errs := map[string]error{}
	for _, gid := range groupIDs {
		if err, ok := failed[gid]; ok {
			errs[gid] = err
		} else if r := results[gid]; !ok2xx(r.Status) && !notMember(r) {
			errs[gid] = itemFault(op+": remove from group "+gid, r, permMembership)
		}
	}
	if len(errs) > 0 {
		return u, &engagement.BulkError{Op: "entra: " + op, Failed: errs}
	}
	return u, nil
}

// Account reads the account and its membership of the groups in one
// $batch: GET the user, and checkMemberGroups for up to 20 groups an item:
// https://learn.microsoft.com/graph/api/user-checkmembergroups
func (c *Client) Account(ctx context.Context, userID string, groupIDs []string) (engagement.User, []string, error) {
	op := "read the account " + userID + " and its groups"
	reqs := []batchRequest{{ID: "read", Method: http.MethodGet, URL: "/users/" + userID + "?$select=" + strings.Join(userFields, ",")}}
	var checks []string
	for i, chunk := 0, slices.Collect(slices.Chunk(groupIDs, BatchSize)); i < len(chunk); i++ {
		id := "groups" + strconv.Itoa(i)
		checks = append(checks, id)
		reqs = append(reqs, batchRequest{ID: id, Method: http.MethodPost, URL: "/users/" + userID + "/checkMemberGroups",
			Headers: map[string]string{"Content-Type": "application/json"}, Body: map[string][]string{"groupIds": chunk[i]}})
	}
	results, failed := c.batch(ctx, op, reqs)
	for _, id := range append([]string{"read"}, checks...) {
		if err, ok := failed[id]; ok {
			return engagement.User{}, nil, err
		}
		if r := results[id]; r.Status != http.StatusOK {
			return engagement.User{}, nil, itemFault(op, r, permReadUsers+" and "+permMembership)
		}
	}
	u, err := decodeUser(results["read"].Body)
	if err != nil {
		return u, nil, fmt.Errorf("entra: %s: %w", op, err)
	}
	var in []string
	for _, id := range checks {
		var answer struct {
			Value []string `json:"value"`
		}
		if err := json.Unmarshal(results[id].Body, &answer); err != nil {
			return u, nil, fmt.Errorf("entra: %s: decode checkMemberGroups: %w", op, err)
		}
		in = append(in, answer.Value...)
	}
	return u, in, nil
}

// decodeUser reads a user from a $batch item's body (the SDK's models are
// for its own requests).
func decodeUser(body json.RawMessage) (engagement.User, error) {
	var u struct {
		ID                string     `json:"id"`
		DisplayName       string     `json:"displayName"`
		Mail              string     `json:"mail"`
		UserPrincipalName string     `json:"userPrincipalName"`
		UserType          string     `json:"userType"`
		AccountEnabled    *bool      `json:"accountEnabled"`
		ExternalUserState string     `json:"externalUserState"`
		CreatedDateTime   *time.Time `json:"createdDateTime"`
	}
	if err := json.Unmarshal(body, &u); err != nil {
		return engagement.User{}, fmt.Errorf("decode the account: %w", err)
	}
	if u.ID == "" || u.UserType == "" || u.AccountEnabled == nil {
		return engagement.User{}, fmt.Errorf("the account read names no id, userType or accountEnabled")
	}
	out := engagement.User{ID: u.ID, DisplayName: u.DisplayName, Mail: u.Mail, UserPrincipalName: u.UserPrincipalName,
		Guest: strings.EqualFold(u.UserType, "Guest"), Enabled: *u.AccountEnabled, ExternalState: u.ExternalUserState}
	if u.CreatedDateTime != nil {
		out.CreatedAt = u.CreatedDateTime.UTC()
	}
	return out, nil
}
