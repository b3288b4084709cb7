package entra

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abstractions "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/stintdev/stint/pkg/fault"
)

// graphError is what a failed Graph call said.
type graphError struct {
	status  int
	code    string // Graph's error code, e.g. Request_ResourceNotFound
	message string
	header  http.Header
}

// inspect extracts status, code and message from an SDK error; ok is false
// when the error carries no HTTP status (network, token, context).
func inspect(err error, last *lastResponse) (graphError, bool) {
	var g graphError
	var odata *odataerrors.ODataError
	var api *abstractions.ApiError
	switch {
	case errors.As(err, &odata):
		g.status = odata.ResponseStatusCode
		if e := odata.GetErrorEscaped(); e != nil {
			g.code, g.message = deref(e.GetCode()), deref(e.GetMessage())
		}
	case errors.As(err, &api):
		g.status, g.message = api.ResponseStatusCode, api.Message
	}
	if last != nil && last.header != nil {
		g.header = last.header
		if g.status == 0 {
			g.status = last.status
		}
	}
	return g, g.status != 0
}

// classify turns a failed call into one error with a fault code: the one
// mapping from Graph's statuses to stint's vocabulary. op says what was
// attempted; permission is the one the operation needs, named when Graph
// answers 403.
func classify(err error, last *lastResponse, op, permission string) error {
	if g, ok := inspect(err, last); ok {
		return g.fault(op, permission, last)
	}
	var authErr *azidentity.AuthenticationFailedError
	var netErr net.Error
	var classified *fault.Error
	switch {
	case errors.As(err, &classified):
		// Classified on the way (the write pacing): keep its code and wait.
		return fmt.Errorf("entra: %s: %w", op, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fault.Wrap(fault.Transient, fmt.Errorf("entra: %s: %w", op, err))
	case errors.As(err, &authErr) && authErr.RawResponse != nil && authErr.RawResponse.StatusCode < 500:
		return fault.Errorf(fault.Unauthorized, "entra: %s: the token service refused the credential (check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret, certificate or federated credential): %w", op, err)
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		strings.Contains(err.Error(), "connection reset"), strings.Contains(err.Error(), "connection refused"):
		return fault.Wrap(fault.Transient, fmt.Errorf("entra: %s: %w", op, err))
	}
	return fmt.Errorf("entra: %s: %w", op, err)
}

func (g graphError) fault(op, permission string, last *lastResponse) error {
	requestID := ""
	if last != nil {
		requestID = last.requestID
	}
	msg := fmt.Sprintf("entra: %s: %d %s: %s", op, g.status, g.code, g.message)
	if requestID != "" {
		msg += " (request-id " + requestID + ")"
	}
	var code fault.Code
	switch {
	case g.status == http.StatusTooManyRequests || g.status >= 500:
		code = fault.Transient
	case g.status == http.StatusUnauthorized:
		code, msg = fault.Unauthorized, msg+"; Graph refused the token: check that it was issued for "+"this endpoint's /.default scope"
	case g.status == http.StatusForbidden:
		code, msg = fault.Unauthorized, msg+"; grant the app the "+permission+" application permission, with admin consent"
	case g.status == http.StatusNotFound:
		code = fault.NotFound
	case g.status == http.StatusConflict:
		code = fault.Conflict
	default:
		code = fault.Invalid
	}
	return &fault.Error{Code: code, RetryAfter: retryAfter(g.header), Err: errors.New(msg)}
}

// alreadyMember reports Graph's answer to adding an existing member:
// 400 "One or more added object references already exist…".
func alreadyMember(g graphError) bool {
	return g.status == http.StatusBadRequest && strings.Contains(g.message, "added object references already exist")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
