package entra

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Sign-in activity and the sign-in log: an optional feature. Both need the
// AuditLog.Read.All application permission and a tenant with Microsoft
// Entra ID P1 or P2; without either, Graph answers 403 and these methods
// return an error that is ErrSignInsUnavailable, so that callers report
// "unknown" rather than fail.
//
// The sign-in log belongs to Graph's reports, throttled at 5 requests per
// 10 seconds per app and tenant. Its 429s carry Retry-After: the SDK's
// retry handler waits and retries, and should it give up, these methods
// wait once more per page, up to reportRetries times, within the
// context's deadline, rather than surface the 429.

// ErrSignInsUnavailable is the error (matched with errors.Is) for a tenant
// that will not give stint sign-in data: the app lacks AuditLog.Read.All,
// or the tenant has no Entra ID P1. The message says which.
var ErrSignInsUnavailable = errors.New("sign-in activity unavailable")

var permSignIns = ReadSignIns.Name

const (
	// signInActivityChunk is how many ids one request asks for, in an
	// "id in (…)" filter: Graph allows at most 15 values in an in clause.
	signInActivityChunk = 15
	// signInActivityMaxTop is Graph's page size when signInActivity is
	// selected.
	signInActivityMaxTop = 120
	// reportRetries bounds the waits for a 429 that the SDK's own retries
	// did not get past.
	reportRetries = 5
)

// nonPremium is Graph's 403 code for a tenant without Entra ID P1 or P2
// (or an Azure AD B2C tenant).
const nonPremium = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"

// SignInActivity reads when each user last signed in
// (https://learn.microsoft.com/graph/api/resources/signinactivity), 15
// users a request. Every id asked for is in the map: a user Graph did not
// answer (deleted) or who never signed in has the zero value.
func (c *Client) SignInActivity(ctx context.Context, userIDs []string) (map[string]engagement.SignInActivity, error) {
	out := make(map[string]engagement.SignInActivity, len(userIDs))
	asked := make(map[string]string, len(userIDs)) // lower case → as given
	for _, id := range userIDs {
		out[id] = engagement.SignInActivity{}
		asked[strings.ToLower(id)] = id
	}
	for start := 0; start < len(userIDs); start += signInActivityChunk {
		chunk := userIDs[start:min(start+signInActivityChunk, len(userIDs))]
		quoted := make([]string, len(chunk))
		for i, id := range chunk {
			quoted[i] = quote(id)
		}
		filter := "id in (" + strings.Join(quoted, ",") + ")"
		top := int32(min(len(chunk), signInActivityMaxTop))
		builder := c.graph.Users()
		conf := &users.UsersRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: []string{"id", "signInActivity"}, Top: &top},
		}
		for page := 1; ; page++ {
			op := fmt.Sprintf("read sign-in activity of %d users from %s (page %d)", len(chunk), chunk[0], page)
			var resp models.UserCollectionResponseable
			err := c.report(ctx, op, func(ctx context.Context) (err error) {
				resp, err = builder.Get(ctx, conf)
				return err
			})
			if err != nil {
				return nil, err
			}
			for _, u := range resp.GetValue() {
				if id, ok := asked[strings.ToLower(deref(u.GetId()))]; ok {
					out[id] = toActivity(u.GetSignInActivity())
				}
			}
			next := deref(resp.GetOdataNextLink())
			if next == "" {
				break
			}
			builder, conf = builder.WithUrl(next), nil
		}
	}
	return out, nil
}

func toActivity(a models.SignInActivityable) engagement.SignInActivity {
	if a == nil {
		return engagement.SignInActivity{}
	}
	return engagement.SignInActivity{
		LastInteractive:    utc(a.GetLastSignInDateTime()),
		LastNonInteractive: utc(a.GetLastNonInteractiveSignInDateTime()),
		LastSuccessful:     utc(a.GetLastSuccessfulSignInDateTime()),
	}
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// SignIns reads a user's entries of the sign-in log since a time, newest
// first, every page (https://learn.microsoft.com/graph/api/signin-list;
// pages of Graph's default and maximum, 1,000).
func (c *Client) SignIns(ctx context.Context, userID string, since time.Time) ([]engagement.SignIn, error) {
	filter := fmt.Sprintf("userId eq %s and createdDateTime ge %s", quote(userID), since.UTC().Format(time.RFC3339))
	builder := c.graph.AuditLogs().SignIns()
	conf := &auditlogs.SignInsRequestBuilderGetRequestConfiguration{
		QueryParameters: &auditlogs.SignInsRequestBuilderGetQueryParameters{Filter: &filter},
	}
	var out []engagement.SignIn
	for page := 1; ; page++ {
		op := fmt.Sprintf("read the sign-ins of %s since %s (page %d)", userID, since.UTC().Format(time.RFC3339), page)
		var resp models.SignInCollectionResponseable
		err := c.report(ctx, op, func(ctx context.Context) (err error) {
			resp, err = builder.Get(ctx, conf)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, s := range resp.GetValue() {
			out = append(out, toSignIn(s))
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		builder, conf = builder.WithUrl(next), nil
	}
}

func toSignIn(s models.SignInable) engagement.SignIn {
	out := engagement.SignIn{
		At:          utc(s.GetCreatedDateTime()),
		Interactive: derefBool(s.GetIsInteractive()),
		App:         deref(s.GetAppDisplayName()),
		IP:          deref(s.GetIpAddress()),
	}
	if st := s.GetStatus(); st != nil {
		code := st.GetErrorCode()
		out.Success = code != nil && *code == 0
		out.FailureReason = deref(st.GetFailureReason())
	}
	return out
}

// report runs one request of the sign-in feature: a 429 that outlasted
// the SDK's retries is waited out (Retry-After, within the context's
// deadline) up to reportRetries times; a 403 becomes ErrSignInsUnavailable.
func (c *Client) report(ctx context.Context, op string, send func(context.Context) error) error {
	for attempt := 0; ; attempt++ {
		cctx, last := call(ctx)
		err := send(cctx)
		if err == nil {
			return nil
		}
		g, ok := inspect(err, last)
		if ok && g.status == http.StatusForbidden {
			return unavailable(g, last, op)
		}
		classified := classify(err, last, op, permSignIns)
		wait := fault.RetryAfter(classified)
		if !ok || g.status != http.StatusTooManyRequests || wait <= 0 || attempt == reportRetries {
			return classified
		}
		if deadline, has := ctx.Deadline(); has && time.Until(deadline) < wait {
			return classified
		}
		c.log.InfoContext(ctx, "entra: reports throttled; waiting", "op", op, "wait", wait, "request_id", last.requestID)
		select {
		case <-ctx.Done():
			return fault.Wrap(fault.Transient, fmt.Errorf("entra: %s: %w", op, ctx.Err()))
		case <-time.After(wait):
		}
	}
}

// unavailable explains a 403 of the sign-in feature: which of the
// permission and the licence is missing.
func unavailable(g graphError, last *lastResponse, op string) error {
	why := "grant the app the " + permSignIns + " application permission, with admin consent"
	if g.code == nonPremium {
		why = "the tenant has no Microsoft Entra ID P1 or P2 licence, which sign-in activity and the sign-in log need"
	}
	return &fault.Error{Code: fault.Unauthorized, Err: fmt.Errorf("entra: %s: %w: %s (Graph answered %d %s: %s; request-id %s)",
		op, ErrSignInsUnavailable, why, g.status, g.code, g.message, last.requestID)}
}
