package engagement

import (
	"context"
	"iter"
	"time"
)

// Ledger stores the engagement records (desired state), what stint applied
// per contractor, and the append-only audit trail. Backends live in
// pkg/ledger; they all pass the conformance suite in pkg/ledger/ledgertest.
//
// Writes use optimistic concurrency: a record is stored only if its Version
// is the stored one (0 to create), and comes back with the new version; a
// writer that lost the race gets a fault.Conflict error and should read
// again and redo its work. Reads of a missing record return a
// fault.NotFound error.
//
// Engagements are written only by Commit, together with their contractor,
// the events handled and the audit entries that explain the change: all of
// it or nothing, whatever crashes when. A contractor's engagements therefore
// change only with its version, which serialises every settle of one
// contractor (backends without transactions rely on it).
type Ledger interface {
	// Engagement reads one record.
	Engagement(ctx context.Context, id string) (Engagement, error)
	// ContractorEngagements lists every engagement of a contractor, ended
	// ones included, ordered by id.
	ContractorEngagements(ctx context.Context, key string) ([]Engagement, error)
	// Due lists up to limit records whose DueAt has come (a start, an end,
	// a retry after a failed settle), in any State, oldest DueAt first.
	Due(ctx context.Context, now time.Time, limit int) ([]Engagement, error)
	// Active yields every record in State active, in no particular order.
	Active(ctx context.Context) iter.Seq2[Engagement, error]

	// Contractors yields every contractor record, in no particular order.
	Contractors(ctx context.Context) iter.Seq2[Contractor, error]
	// Contractor reads what stint applied for one contractor.
	Contractor(ctx context.Context, key string) (Contractor, error)
	// PutContractor creates or updates it.
	PutContractor(ctx context.Context, c Contractor) (Contractor, error)

	// Commit stores a Change atomically: every record on its own Version,
	// or nothing at all (fault.Conflict when one of them changed). Readers
	// that start after Commit returns see all of it. It returns the
	// contractor and the engagements as stored, with their new versions.
	Commit(ctx context.Context, c Change) (Contractor, []Engagement, error)
	// Seen reads the note a Commit left of a handled event, by the event's
	// deduplication key (event.Event.Key); fault.NotFound if none.
	Seen(ctx context.Context, key string) (SeenEvent, error)

	// Append adds entries to the audit trail. Entries are never changed or
	// removed. An entry without an ID gets one; appending an ID that exists
	// is a fault.Conflict.
	Append(ctx context.Context, entries ...AuditEntry) error
	// Audit reads the trail, oldest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// Lease takes the named lease for holder until until, or keeps it when
	// holder has it already: it succeeds when the lease is free, expired
	// at now, or the holder's; otherwise it reports false and leaves it.
	// The tick and the reconcile run under one each, so that two never
	// overlap (a schedule firing while a run is still going, several
	// replicas).
	Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error)
	// Release gives a lease back, if holder has it.
	Release(ctx context.Context, name, holder string) error

	// Marks reads the small named notes whose key starts with prefix (the
	// reconciler's first sightings of ghosts, its checkpoint).
	Marks(ctx context.Context, prefix string) (map[string]string, error)
	// SetMark writes a note; DeleteMark removes one (absent is fine).
	SetMark(ctx context.Context, key, value string) error
	DeleteMark(ctx context.Context, key string) error

	Close() error
}

// Change is one settle of a contractor: what it applied, the records it
// changed, the events it handled, and the audit entries that say so.
type Change struct {
	Contractor  Contractor
	Engagements []Engagement
	Seen        []SeenEvent
	Audit       []AuditEntry
}

// SeenEvent notes that an event was handled, so that the same event again
// is a duplicate and another event reusing its id is refused.
type SeenEvent struct {
	// Key is the event's deduplication key: its source and id.
	Key string `json:"key"`
	// Digest fingerprints what the event said (event.Event.Digest); empty
	// when not known (events handled before stint recorded it).
	Digest     string    `json:"digest"`
	Engagement string    `json:"engagement"`
	Outcome    Outcome   `json:"outcome"`
	At         time.Time `json:"at"`
}

// AuditEntry is one line of the audit trail: what changed, why, because of
// which event, and when.
type AuditEntry struct {
	// ID orders entries (a ULID); the ledger assigns one when empty.
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Contractor string    `json:"contractor"`
	Engagement string    `json:"engagement,omitempty"`
	// EventID is the event that caused the entry, if one did.
	EventID string `json:"eventId,omitempty"`
	// Actor is who or what acted: the event's source, "stint:tick",
	// "stint:reconcile", an operator.
	Actor string `json:"actor"`
	// Action names the change, e.g. EventApplied, EventStale,
	// GroupAdded, AccountDisabled.
	Action Action `json:"action"`
	// Detail says why, in words.
	Detail string `json:"detail,omitempty"`
}

// AuditQuery selects audit entries; zero fields select everything.
type AuditQuery struct {
	Contractor string
	// Limit keeps the newest Limit entries (still returned oldest first).
	Limit int
}
