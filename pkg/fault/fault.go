// Package fault is stint's one error vocabulary: a small closed set of codes
// that every layer speaks, so that transports decide once what to do with a
// failure (retry it, dead-letter it, answer 4xx or 5xx).
//
// Adapters classify the errors of the systems they talk to into these codes
// where they meet them; everything above them asks CodeOf.
package fault

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error by what the caller should do about it.
type Code string

// The codes. Anything unclassified is Internal.
const (
	// Invalid: the input is wrong and will stay wrong; do not retry.
	Invalid Code = "invalid"
	// NotFound: the thing asked for does not exist.
	NotFound Code = "not_found"
	// Conflict: a concurrent writer won, or the thing already exists.
	Conflict Code = "conflict"
	// Unauthorized: credentials or permissions are missing; do not retry blindly.
	Unauthorized Code = "unauthorized"
	// Transient: worth retrying later (throttling, 5xx, timeouts, connections).
	Transient Code = "transient"
	// Internal: a bug or an unclassified failure.
	Internal Code = "internal"
)

// Error carries a code and, for transient errors, how long the far side asked
// us to wait.
type Error struct {
	Code       Code
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// Errorf formats an error with a code, wrapping any %w operand.
func Errorf(code Code, format string, args ...any) error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// Wrap attaches a code to err; it returns nil for a nil err.
func Wrap(code Code, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// coder is implemented by error types that know their own code, so packages
// with richer error types (an invalid event names its field) need not wrap.
type coder interface{ FaultCode() Code }

// CodeOf returns the code of the first classified error in err's chain, and
// Internal when there is none. A nil error has no code: it returns "".
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Code
	}
	var c coder
	if errors.As(err, &c) {
		return c.FaultCode()
	}
	return Internal
}

// Is reports whether err is classified as code.
func Is(err error, code Code) bool { return err != nil && CodeOf(err) == code }

// RetryAfter returns the wait the far side asked for, if err carries one.
func RetryAfter(err error) time.Duration {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.RetryAfter
	}
	var w waiter
	if errors.As(err, &w) {
		return w.RetryAfter()
	}
	return 0
}

// waiter is implemented by error types that know how long to wait, as coder
// is by those that know their code.
type waiter interface{ RetryAfter() time.Duration }
