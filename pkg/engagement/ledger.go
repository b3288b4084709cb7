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
// Writes use optimistic concurrency: Put* stores the record only if its
// Version is the stored one (0 to create), and returns it with the new
// version; a writer that lost the race gets a fault.Conflict error and should
// read again and redo its work. Reads of a missing record return a
// fault.NotFound error.
type Ledger interface {
	// Engagement reads one record.
	Engagement(ctx context.Context, id string) (Engagement, error)
	// PutEngagement creates or updates a record.
	PutEngagement(ctx context.Context, e Engagement) (Engagement, error)
	// ContractorEngagements lists every engagement of a contractor, ended
	// ones included, ordered by id.
	ContractorEngagements(ctx context.Context, key string) ([]Engagement, error)
	// DueStarts lists up to limit records in State pending whose DueAt has
	// come (a start, or the end of one that never became active), oldest first.
	DueStarts(ctx context.Context, now time.Time, limit int) ([]Engagement, error)
	// DueEnds lists up to limit records in State active whose DueAt (their
	// end) has come, oldest first.
	DueEnds(ctx context.Context, now time.Time, limit int) ([]Engagement, error)
	// Active yields every record in State active, in no particular order.
	Active(ctx context.Context) iter.Seq2[Engagement, error]

	// Contractors yields every contractor record, in no particular order.
	Contractors(ctx context.Context) iter.Seq2[Contractor, error]
	// Contractor reads what stint applied for one contractor.
	Contractor(ctx context.Context, key string) (Contractor, error)
	// PutContractor creates or updates it.
	PutContractor(ctx context.Context, c Contractor) (Contractor, error)

	// Append adds entries to the audit trail. Entries are never changed or
	// removed. An entry without an ID gets one; appending an ID that exists
	// is a fault.Conflict.
	Append(ctx context.Context, entries ...AuditEntry) error
	// Audit reads the trail, oldest first.
	Audit(ctx context.Context, q AuditQuery) ([]AuditEntry, error)

	// Marks reads the small named notes whose key starts with prefix (the
	// reconciler's first sightings of ghosts, its checkpoint).
	Marks(ctx context.Context, prefix string) (map[string]string, error)
	// SetMark writes a note; DeleteMark removes one (absent is fine).
	SetMark(ctx context.Context, key, value string) error
	DeleteMark(ctx context.Context, key string) error

	Close() error
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
	// Action names the change, e.g. "event.applied", "event.stale",
	// "group.added", "account.disabled".
	Action string `json:"action"`
	// Detail says why, in words.
	Detail string `json:"detail,omitempty"`
}

// AuditQuery selects audit entries; zero fields select everything.
type AuditQuery struct {
	Contractor string
	// Limit keeps the newest Limit entries (still returned oldest first).
	Limit int
}
