package worker

import (
	"cmp"
	"context"
	"fmt"
	"runtime/debug"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/fault"
)

// Process handles one queued message, whatever the transport, and says
// what it came to: done (applied, or nothing to do), retry (a transient
// failure, with the wait Graph asked for), or dead (it can never succeed,
// with the code and the reason). The transport settles the message. A
// panic is recovered and is a retry. Observe, when set, is told.
func (h *Handler) Process(ctx context.Context, msg engagement.Message) (v engagement.Verdict) {
	var res Result
	defer func() {
		if p := recover(); p != nil {
			h.Log.ErrorContext(ctx, "worker: panic handling a message; it will be redelivered", "message_id", msg.ID,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			v = VerdictOf(fault.Errorf(fault.Transient, "worker: panic: %v", p))
		}
		h.observe(v, res.Outcome)
	}()
	ev, err := event.Parse(msg.Body)
	key := ""
	if err == nil {
		key = ev.Key()
		res, err = h.HandleEvent(ctx, ev)
	} else {
		h.refusedUnparsed(ctx, msg, err)
	}
	v = VerdictOf(err)
	v.Key = key
	if v.Outcome == engagement.Dead {
		h.Log.WarnContext(ctx, "worker: the message can never apply; it goes to the dead letters", "message_id", msg.ID, "code", string(v.Code()), "reason", v.Reason())
	}
	return v
}

// What became of a message that did not apply, as Observe is told.
const (
	// Refused: it can never succeed (a dead verdict).
	Refused = "refused"
	// Retried: it failed transiently and is retried.
	Retried = "retried"
)

// observe tells Observe what became of a message: the event's outcome
// when it is done (applied, applied_out_of_order, stale, duplicate), else
// Refused or Retried.
func (h *Handler) observe(v engagement.Verdict, o engagement.Outcome) {
	if h.Observe == nil {
		return
	}
	switch v.Outcome {
	case engagement.Done:
		h.Observe(string(cmp.Or(o, engagement.Applied)))
	case engagement.Dead:
		h.Observe(Refused)
	default:
		h.Observe(Retried)
	}
}

// VerdictOf is the one table from fault codes to outcomes: what can never
// succeed is dead, the rest is retried.
func VerdictOf(err error) engagement.Verdict {
	switch fault.CodeOf(err) {
	case "":
		if err == nil {
			return engagement.Verdict{Outcome: engagement.Done}
		}
	case fault.Invalid, fault.Unauthorized, fault.Conflict, fault.NotFound:
		return engagement.Verdict{Outcome: engagement.Dead, Err: err}
	}
	return engagement.Verdict{Outcome: engagement.Retry, Err: err, Wait: fault.RetryAfter(err)}
}
