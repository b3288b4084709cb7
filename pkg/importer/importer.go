package importer

import (
	"context"
	"fmt"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// MarkPrefix names the ledger marks that keep when each row was first
// imported: MarkPrefix + event id, the time in RFC 3339.
const MarkPrefix = "import/"

// Ledger is what an import reads and writes in the ledger: the events
// already handled, and its marks.
type Ledger interface {
	Seen(ctx context.Context, key string) (engagement.SeenEvent, error)
	Marks(ctx context.Context, prefix string) (map[string]string, error)
	SetMark(ctx context.Context, key, value string) error
}

// AllPutter is a queue that takes many messages in one transaction, all
// or none (the embedded queue), and says how many were new.
type AllPutter interface {
	PutAll(ctx context.Context, ms []engagement.Message) (queued int, err error)
}

// Putter is a queue that says, as it takes a message, whether it was new
// or the same message again (the embedded queue); another queue's
// messages all count as queued.
type Putter interface {
	Put(ctx context.Context, m engagement.Message) (queued bool, err error)
}

// Summary is what an import did.
type Summary struct {
	// Rows is the number of rows imported (all of the list's).
	Rows int `json:"rows"`
	// Queued counts the events put on the queue now.
	Queued int `json:"queued"`
	// AlreadyQueued counts the events the queue held from an earlier
	// import, not yet applied (only a queue that tells: the embedded one).
	AlreadyQueued int `json:"alreadyQueued"`
	// AlreadyApplied counts the events the worker applied after an
	// earlier import: not queued again.
	AlreadyApplied int `json:"alreadyApplied"`
}

// Imported reads when the rows imported before were first imported, by
// event id: Build's Options.Imported.
func Imported(ctx context.Context, l Ledger) (map[string]time.Time, error) {
	marks, err := l.Marks(ctx, MarkPrefix)
	if err != nil {
		return nil, fmt.Errorf("import: read the earlier imports: %w", err)
	}
	out := make(map[string]time.Time, len(marks))
	for key, value := range marks {
		t, err := time.Parse(time.RFC3339, value)
		if err != nil {
			return nil, fmt.Errorf("import: the mark %s holds %q, not a time", key, value)
		}
		out[key[len(MarkPrefix):]] = t
	}
	return out, nil
}

// Enqueue puts the items' events on the queue, as the webhook would have:
// every check first (which events the ledger has handled already), then
// the marks of the rows imported for the first time, then the events: in
// one transaction on the embedded queue (all or none), else one by one.
// step, when set, is called once per item.
//
// Service Bus takes one event at a time, so there a failure can leave
// some events queued and the rest not. Nothing is lost and nothing
// doubles: the same list imported again makes the same events (ids and
// times kept), which the queue and the worker recognise, so a re-run
// queues only the rest. The error says so.
func Enqueue(ctx context.Context, l Ledger, q engagement.Queue, items []Item, step func()) (Summary, error) {
	sum := Summary{Rows: len(items)}
	if step == nil {
		step = func() {}
	}
	var send []Item
	for _, it := range items {
		seen, err := l.Seen(ctx, it.Message.ID)
		switch {
		case fault.Is(err, fault.NotFound):
			send = append(send, it)
		case err != nil:
			return Summary{}, fmt.Errorf("import: row %d: read whether event %s was applied: %w; nothing was queued", it.Row.Number, it.Event.ID, err)
		case seen.Digest != "" && seen.Digest != it.Message.Digest:
			return Summary{}, fmt.Errorf("import: row %d: event %s was applied before with other content (its mark %s%s is gone from the ledger); nothing was queued",
				it.Row.Number, it.Event.ID, MarkPrefix, it.Event.ID)
		default:
			sum.AlreadyApplied++
			step()
		}
	}
	for _, it := range send {
		if !it.FirstImport {
			continue
		}
		if err := l.SetMark(ctx, MarkPrefix+it.Event.ID, it.Event.Time.UTC().Format(time.RFC3339)); err != nil {
			return Summary{}, fmt.Errorf("import: row %d: keep its time: %w; nothing was queued (import the list again)", it.Row.Number, err)
		}
	}
	if p, ok := q.(AllPutter); ok {
		ms := make([]engagement.Message, len(send))
		for i, it := range send {
			ms[i] = it.Message
		}
		queued, err := p.PutAll(ctx, ms)
		if err != nil {
			return sum, fmt.Errorf("import: %w; none of the list's %d events were queued (import the list again)", err, len(send))
		}
		sum.Queued, sum.AlreadyQueued = queued, len(send)-queued
		for range send {
			step()
		}
		return sum, nil
	}
	for _, it := range send {
		queued, err := put(ctx, q, it.Message)
		if err != nil {
			return sum, fmt.Errorf("import: row %d: %w; %d of %d events were queued before it: import the same list again to queue the rest (an event queued or applied already is recognised, not queued twice)",
				it.Row.Number, err, sum.Queued+sum.AlreadyQueued, len(send))
		}
		if queued {
			sum.Queued++
		} else {
			sum.AlreadyQueued++
		}
		step()
	}
	return sum, nil
}

// put enqueues m, and says whether the queue took it now, when it can.
func put(ctx context.Context, q engagement.Queue, m engagement.Message) (bool, error) {
	if p, ok := q.(Putter); ok {
		return p.Put(ctx, m)
	}
	return true, q.Enqueue(ctx, m)
}
