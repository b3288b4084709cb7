package cli

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
)

// A SIEM follows the audit trail as JSON lines (stint audit --follow), one
// object per entry in the shape events/schema/audit-entry.v1.json
// documents: the entry's stable id, its time, who acted, what was done, to
// whom, why (cause) and the detail in words.

// siemEntry is one line of the stream.
type siemEntry struct {
	ID     string `json:"id"`
	Time   string `json:"time"`
	Actor  string `json:"actor"`
	Action string `json:"action"`
	Target target `json:"target"`
	Cause  cause  `json:"cause"`
	Detail string `json:"detail,omitempty"`
}

type target struct {
	// Contractor is the contractor's key (their email, lower case); "-"
	// for an entry about a run rather than a person.
	Contractor string `json:"contractor"`
	Engagement string `json:"engagement,omitempty"`
}

// cause is why the entry exists: an event (its id), a scheduled run (the
// tick or the reconcile), or an operator's command.
type cause struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

func toSIEM(a engagement.AuditEntry) siemEntry {
	c := cause{Type: "operator", ID: a.Actor}
	switch {
	case a.EventID != "":
		c = cause{Type: "event", ID: a.EventID}
	case a.Actor == "stint:tick" || a.Actor == "stint:reconcile":
		c = cause{Type: "schedule", ID: a.Actor}
	}
	return siemEntry{ID: a.ID, Time: a.At.UTC().Format(time.RFC3339Nano), Actor: a.Actor, Action: string(a.Action),
		Target: target{Contractor: a.Contractor, Engagement: a.Engagement}, Cause: c, Detail: a.Detail}
}

// followWindow is how many of the newest entries each poll reads.
const followWindow = 1000

// followAudit writes the audit trail's entries as JSON lines as they are
// appended, polling the ledger every interval, until ctx ends. It first
// writes the newest backlog entries (0: none). Nothing is skipped: an entry
// appended after one already written is written, in the trail's order,
// even when more than a poll's window arrived at once (the whole trail is
// read again then).
func followAudit(ctx context.Context, l engagement.Ledger, w io.Writer, every time.Duration, backlog int) error {
	enc := json.NewEncoder(w)
	emit := func(entries []engagement.AuditEntry) error {
		for _, a := range entries {
			if err := enc.Encode(toSIEM(a)); err != nil {
				return err
			}
		}
		return nil
	}
	window, err := l.Audit(ctx, engagement.AuditQuery{Limit: followWindow})
	if err != nil {
		return err
	}
	if err := emit(window[max(0, len(window)-backlog):]); err != nil {
		return err
	}
	seen := ids(window)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		next, err := l.Audit(ctx, engagement.AuditQuery{Limit: followWindow})
		if ctx.Err() != nil {
			return nil // interrupted: the end of the stream, not a failure
		}
		if err != nil {
			return err
		}
		from := 0
		if len(next) == followWindow && len(seen) > 0 && !slices.ContainsFunc(next, func(a engagement.AuditEntry) bool { return seen[a.ID] }) {
			// More than a window arrived: read the whole trail and
			// start after the last entry of the last window.
			if next, err = l.Audit(ctx, engagement.AuditQuery{}); err != nil {
				return err
			}
			for i, a := range next {
				if seen[a.ID] {
					from = i + 1
				}
			}
		}
		var fresh []engagement.AuditEntry
		for _, a := range next[from:] {
			if !seen[a.ID] {
				fresh = append(fresh, a)
			}
		}
		if err := emit(fresh); err != nil {
			return err
		}
		seen = ids(next)
	}
}

func ids(entries []engagement.AuditEntry) map[string]bool {
	m := make(map[string]bool, len(entries))
	for _, a := range entries {
		m[a.ID] = true
	}
	return m
}
