package sqsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// apiError is an SQS error in the AWS JSON 1.0 protocol with the awsQuery
// compatibility header SQS sends: the body names the modelled error shape
// ({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":…}) and
// x-amzn-query-error carries the query-protocol code and fault
// ("AWS.SimpleQueueService.NonExistentQueue;Sender"), which the SDK surfaces
// as ErrorCode().
type apiError struct {
	status int
	shape  string // the __type, without or with a namespace
	code   string // the query-protocol code
	fault  string // Sender or Receiver
	msg    string
}

// Error implements error, for the Go-side API.
func (e *apiError) Error() string { return fmt.Sprintf("sqsfake: %s: %s", e.code, e.msg) }

// write sends e as an HTTP response.
func (e *apiError) write(w http.ResponseWriter) {
	typ := e.shape
	if !strings.Contains(typ, "#") {
		typ = "com.amazonaws.sqs#" + typ
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-query-error", e.code+";"+e.fault)
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": e.msg}) //nolint:errcheck // client went away
}

// senderErr is a 400 the client caused.
func senderErr(shape, code, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, shape: shape, code: code, fault: "Sender", msg: fmt.Sprintf(format, args...)}
}

// Errors documented in the SQS API reference, named by their shape and
// query code (see the AWSQueryError traits in aws-sdk-go-v2/service/sqs).

func errQueueDoesNotExist() *apiError {
	return senderErr("QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
}

func errInvalidParameter(format string, args ...any) *apiError {
	return senderErr("InvalidParameterValue", "InvalidParameterValue", format, args...)
}

func errMissingParameter(name string) *apiError {
	return senderErr("MissingParameter", "MissingParameter", "The request must contain the parameter %s.", name)
}

func errReceiptHandle(format string, args ...any) *apiError {
	return senderErr("ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", format, args...)
}

func errNotInflight() *apiError {
	return senderErr("MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "The message referred to isn't in flight.")
}

func errInvalidAttributeName(name string) *apiError {
	return senderErr("InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute %s.", name)
}

func errInvalidMessageContents() *apiError {
	return senderErr("InvalidMessageContents", "InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
}

func errQueueNameExists(name string) *apiError {
	return senderErr("QueueNameExists", "QueueAlreadyExists", "A queue already exists with the same name (%s) and a different value for attribute(s).", name)
}

func errPurgeInProgress(name string) *apiError {
	return senderErr("PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", "Only one PurgeQueue operation on %s is allowed every 60 seconds.", name)
}

func errEmptyBatch() *apiError {
	return senderErr("EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one entry in the request.")
}

func errTooManyEntries(n int) *apiError {
	return senderErr("TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "Maximum number of entries per request are 10. You have sent %d.", n)
}

func errIDsNotDistinct(id string) *apiError {
	return senderErr("BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id %s repeated.", id)
}

func errInvalidBatchID(id string) *apiError {
	return senderErr("InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long. (%q)", id)
}

func errBatchTooLong(size, limit int) *apiError {
	return senderErr("BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", "Batch requests cannot be longer than %d bytes. You have sent %d bytes.", limit, size)
}

func errUnsupported(op string) *apiError {
	return senderErr("UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "sqsfake does not implement %s.", op)
}

func errUnknownOperation(target string) *apiError {
	return senderErr("com.amazon.coral.service#UnknownOperationException", "InvalidAction", "The action or operation requested is invalid (X-Amz-Target %q).", target)
}

func errSerialization(format string, args ...any) *apiError {
	return senderErr("com.amazon.coral.service#SerializationException", "MalformedInput", format, args...)
}

func errUnavailable() *apiError {
	return &apiError{status: http.StatusServiceUnavailable, shape: "ServiceUnavailable", code: "ServiceUnavailable", fault: "Receiver",
		msg: "The request has failed due to a temporary failure of the server."}
}
