// Package event is stint's canonical event, wire format v1: a CloudEvents 1.0
// envelope in structured JSON mode whose data describes one engagement.
//
// Parse is the only way bytes become an Event: it refuses anything the wire
// contract (events/schema/engagement-event.v1.json) refuses, plus the
// cross-field rules JSON Schema cannot express, and its error names the field
// as a JSON pointer together with the reason.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// MaxBodySize is the largest body accepted, in bytes (64 KiB).
const MaxBodySize = 64 << 10

// SpecVersion is the only CloudEvents version accepted.
const SpecVersion = "1.0"

// Type is what happened to an engagement.
type Type string

// The event types. Anything else is refused.
const (
	Started  Type = "engagement.started"
	Ended    Type = "engagement.ended"
	Extended Type = "engagement.extended"
)

// Types lists the accepted types in their documented order.
var Types = []Type{Started, Ended, Extended}

// Event is a parsed and validated event.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            Type      `json:"type"`
	Time            time.Time `json:"time"`
	Subject         string    `json:"subject"`
	DataContentType string    `json:"datacontenttype,omitempty"`
	Data            Data      `json:"data"`
}

// Data is the engagement an event speaks of.
type Data struct {
	EngagementID string     `json:"engagementId"`
	Contractor   Contractor `json:"contractor"`
	Sponsor      *Sponsor   `json:"sponsor,omitempty"`
	// Access lists access keys; empty means the configured default.
	Access []string `json:"access,omitempty"`
	// StartsAt is nil when the event does not say; see Start.
	StartsAt *time.Time `json:"startsAt,omitempty"`
	// EndsAt is nil when the event does not say (allowed only for ended).
	EndsAt *time.Time `json:"endsAt,omitempty"`
}

// Contractor is the person the engagement is for.
type Contractor struct {
	Email       string `json:"email"`
	DisplayName string `json:"displayName,omitempty"`
	Company     string `json:"company,omitempty"`
}

// Sponsor is the employee accountable for the engagement.
type Sponsor struct {
	Email string `json:"email"`
}

// ContractorKey identifies the person across engagements and orders the
// queue: the lower-cased email.
func (e Event) ContractorKey() string { return ContractorKey(e.Data.Contractor.Email) }

// Key is the event's deduplication key: CloudEvents ids are unique per
// source, so two systems may send the same id. Parse refuses whitespace and
// control characters in both (a source is a URI-reference, which has none),
// so the space keeps the two parts apart.
func (e Event) Key() string { return e.Source + " " + e.ID }

// Digest fingerprints what the event says, to tell a resend of the same
// event (an idempotent no-op) from a different event reusing its id (a
// conflict). It hashes the parsed event, not the bytes, so whitespace, key
// order, unknown fields and the zone a time is written in do not count.
func (e Event) Digest() string {
	e.Time = e.Time.UTC()
	e.Data.StartsAt, e.Data.EndsAt = utc(e.Data.StartsAt), utc(e.Data.EndsAt)
	b, _ := json.Marshal(e) // plain structs: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// ContractorKey turns an email into the contractor key.
func ContractorKey(email string) string { return strings.ToLower(email) }

// Start is when the event says the engagement starts: data.startsAt, or the
// event's time when it is absent.
func (e Event) Start() time.Time {
	if e.Data.StartsAt != nil {
		return *e.Data.StartsAt
	}
	return e.Time
}
