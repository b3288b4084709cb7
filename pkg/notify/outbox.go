package notify

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stintdev/stint/pkg/engagement"
)

// State is where a notification's delivery stands.
type State string

// The delivery states.
const (
	// Pending: not tried yet.
	Pending State = "pending"
	// Retrying: tried and failed; tried again at NextAttempt.
	Retrying State = "retrying"
	// Sent: the receiver answered 2xx.
	Sent State = "sent"
	// GivenUp: refused for good (4xx), or still failing after
	// MaxAttempts; never tried again.
	GivenUp State = "given-up"
)

// Due reports whether an entry in state s is still to be delivered.
func (s State) Due() bool { return s == Pending || s == Retrying }

// Entry is a notification in the outbox, with its delivery state.
type Entry struct {
	Notification Notification `json:"notification"`
	State        State        `json:"state"`
	// Attempts counts the deliveries tried.
	Attempts int `json:"attempts"`
	// LastAttempt is when the last one was; zero before the first.
	LastAttempt time.Time `json:"lastAttempt,omitzero"`
	// NextAttempt is when to try again (Retrying); zero is at once.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// LastError says why the last attempt failed: the HTTP status and the
	// start of the receiver's answer, or the network error.
	LastError string `json:"lastError,omitempty"`
	// SentAt is when the receiver took it (Sent).
	SentAt time.Time `json:"sentAt,omitzero"`
}

// Outbox keeps notifications in the ledger until they are delivered: one
// mark per notification, under MarkPrefix.
//
// Add and the Sender's updates read a mark, then write it; they assume a
// single writer at a time, which the tick's and the reconcile's lease
// provide (see the package documentation).
type Outbox struct {
	Ledger engagement.Ledger
}

// MarkPrefix starts the key of every outbox mark.
const MarkPrefix = "notify/"

// maxIDKey is the longest id used in a mark's key as it is. Marks are
// keyed by a DynamoDB sort key (1024 bytes at most) and a PostgreSQL
// primary key (a b-tree entry, about 2.7 KB); longer ids are hashed, and
// the id itself is kept in the value.
const maxIDKey = 200

// hashed starts the key of an id that was hashed; ids that start with it
// are hashed too, so that no id's key can be another's hash.
const hashed = "#"

// Key is the mark that holds the notification with this id.
func Key(id string) string {
	if len(id) <= maxIDKey && utf8.ValidString(id) && !strings.HasPrefix(id, hashed) {
		return MarkPrefix + id
	}
	sum := sha256.Sum256([]byte(id))
	return MarkPrefix + hashed + hex.EncodeToString(sum[:])
}

// Add records notifications that are not in the outbox yet, as Pending,
// and reports how many it added: an id already there — pending, sent or
// given up — is skipped, whatever the rest of it says.
func (o *Outbox) Add(ctx context.Context, ns ...Notification) (added int, err error) {
	for _, n := range ns {
		if err := n.Check(); err != nil {
			return added, err
		}
	}
	have, err := o.Ledger.Marks(ctx, MarkPrefix)
	if err != nil {
		return 0, fmt.Errorf("notify: read the outbox: %w", err)
	}
	for _, n := range ns {
		k := Key(n.ID)
		if _, ok := have[k]; ok {
			continue
		}
		if err := o.put(ctx, Entry{Notification: n, State: Pending}); err != nil {
			return added, err
		}
		have[k] = ""
		added++
	}
	return added, nil
}

// List reads the outbox, oldest notification first (by time, then id).
func (o *Outbox) List(ctx context.Context) ([]Entry, error) {
	marks, err := o.Ledger.Marks(ctx, MarkPrefix)
	if err != nil {
		return nil, fmt.Errorf("notify: read the outbox: %w", err)
	}
	entries := make([]Entry, 0, len(marks))
	for k, v := range marks {
		var e Entry
		if err := json.Unmarshal([]byte(v), &e); err != nil {
			return nil, fmt.Errorf("notify: outbox mark %q is not an entry (%v): delete it, or restore it from a backup", k, err)
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int {
		return cmp.Or(a.Notification.Time.Compare(b.Notification.Time), strings.Compare(a.Notification.ID, b.Notification.ID))
	})
	return entries, nil
}

// Retention is how long an entry stays after it was sent or given up.
const Retention = 90 * 24 * time.Hour

// Prune removes the entries sent or given up more than Retention before
// now, and reports how many.
func (o *Outbox) Prune(ctx context.Context, now time.Time) (int, error) {
	entries, err := o.List(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		done := e.SentAt
		if e.State == GivenUp {
			done = e.LastAttempt
		}
		if e.State.Due() || now.Sub(done) <= Retention {
			continue
		}
		if err := o.Ledger.DeleteMark(ctx, Key(e.Notification.ID)); err != nil {
			return n, fmt.Errorf("notify: prune %q: %w", e.Notification.ID, err)
		}
		n++
	}
	return n, nil
}

// put writes an entry's mark.
func (o *Outbox) put(ctx context.Context, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notify: encode %q: %w", e.Notification.ID, err)
	}
	if err := o.Ledger.SetMark(ctx, Key(e.Notification.ID), string(b)); err != nil {
		return fmt.Errorf("notify: record %q: %w", e.Notification.ID, err)
	}
	return nil
}
