package fault_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/fault"
)

type fieldError struct{}

func (fieldError) Error() string         { return "bad field" }
func (fieldError) FaultCode() fault.Code { return fault.Invalid }

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want fault.Code
	}{
		{"nil has no code", nil, ""},
		{"a plain error is internal", errors.New("boom"), fault.Internal},
		{"a coded error", fault.Errorf(fault.NotFound, "user %s", "u-1"), fault.NotFound},
		{"a coded error wrapped with context", fmt.Errorf("entra: add: %w", fault.Errorf(fault.Transient, "429")), fault.Transient},
		{"an error type that knows its code", fmt.Errorf("parse: %w", fieldError{}), fault.Invalid},
		{"the outermost code wins", fault.Wrap(fault.Conflict, fault.Errorf(fault.Transient, "x")), fault.Conflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fault.CodeOf(tt.err); got != tt.want {
				t.Errorf("CodeOf(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestRetryAfterTravelsWithTheError(t *testing.T) {
	err := fmt.Errorf("entra: invite: %w", &fault.Error{Code: fault.Transient, RetryAfter: 2128 * time.Millisecond, Err: errors.New("429")})
	if got := fault.RetryAfter(err); got != 2128*time.Millisecond {
		t.Errorf("RetryAfter = %v, want 2.128s", got)
	}
	if got := fault.RetryAfter(errors.New("x")); got != 0 {
		t.Errorf("RetryAfter(plain) = %v, want 0", got)
	}
	if fault.Wrap(fault.Invalid, nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}
