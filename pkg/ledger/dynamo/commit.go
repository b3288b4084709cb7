package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// A Commit is made atomic without transactions by a redo log: the
// contractor item is written, on its version, together with everything else
// the commit stores (attribute "pending"). That one conditional put is the
// commit point. The rest is then rolled forward — each engagement on its
// version, each handled event and audit entry only if absent — and the log
// removed. Every write of the roll-forward is idempotent, so whoever next
// reads the contractor (Contractor, ContractorEngagements) finishes a roll
// forward that a crash interrupted, and nobody reads a contractor's
// engagements, handled events or audit trail without having read the
// contractor first (the worker's order). Engagements are written only
// through commits, so an engagement's version moves in one commit only.
type pending struct {
	// Engagements are the records as they are to be stored (new version).
	Engagements []engagement.Engagement `json:"engagements,omitempty"`
	Seen        []engagement.SeenEvent  `json:"seen,omitempty"`
	Audit       []engagement.AuditEntry `json:"audit,omitempty"`
}

// Commit stores a Change: see pending.
func (l *Ledger) Commit(ctx context.Context, ch engagement.Change) (engagement.Contractor, []engagement.Engagement, error) {
	c := ch.Contractor
	if c.Key == "" {
		return c, nil, fault.Errorf(fault.Invalid, "dynamodb ledger: contractor needs a key")
	}
	now := l.now().UTC()
	var p pending
	for _, e := range ch.Engagements {
		if e.ID == "" || e.Contractor != c.Key {
			return c, nil, fault.Errorf(fault.Invalid, "dynamodb ledger: engagement %q in a commit of %s needs an id and that contractor", e.ID, c.Key)
		}
		if e.Version == 0 {
			if err := l.index(ctx, e); err != nil {
				return c, nil, err
			}
		}
		e.Version, e.UpdatedAt = e.Version+1, now
		p.Engagements = append(p.Engagements, e)
	}
	for _, seen := range ch.Seen {
		if seen.At.IsZero() {
			seen.At = now
		}
		seen.At = seen.At.UTC()
		p.Seen = append(p.Seen, seen)
	}
	for _, a := range ch.Audit {
		if a.ID == "" {
			a.ID = ulid.Make().String()
		}
		if a.At.IsZero() {
			a.At = now
		}
		a.At = a.At.UTC()
		p.Audit = append(p.Audit, a)
	}
	log, err := json.Marshal(p)
	if err != nil {
		return c, nil, fmt.Errorf("dynamodb ledger: encode commit of %s: %w", c.Key, err)
	}
	stored := c
	stored.Version, stored.UpdatedAt = c.Version+1, now
	item := contractorKey(c.Key)
	item["pending"] = s(string(log))
	if err := l.put(ctx, item, stored, stored.Version, c.Version, "contractor "+c.Key); err != nil {
		return c, nil, err
	}
	if err := l.rollForward(ctx, stored, p); err != nil {
		// Committed all the same: the next reader of the contractor
		// finishes the roll-forward.
		return stored, p.Engagements, nil
	}
	return stored, p.Engagements, nil
}

// index adds a new engagement to its contractor's id set, before the record
// exists: a reader must never miss a record that exists.
func (l *Ledger) index(ctx context.Context, e engagement.Engagement) error {
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &l.table,
		Key:                       key("C#"+e.Contractor, "engagements"),
		UpdateExpression:          aws.String("ADD ids :id"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":id": &types.AttributeValueMemberSS{Value: []string{e.ID}}},
	})
	if err != nil {
		return classify(fmt.Errorf("dynamodb ledger: index engagement %s: %w", e.ID, err), l.table)
	}
	return nil
}

// rollForward carries out a committed log, idempotently, then removes it
// from the contractor item (unless a newer commit replaced it meanwhile).
func (l *Ledger) rollForward(ctx context.Context, c engagement.Contractor, p pending) error {
	for _, e := range p.Engagements {
		if err := l.putEngagementOnce(ctx, e); err != nil {
			return err
		}
	}
	for _, seen := range p.Seen {
		item := key("S#"+seen.Key, "-")
		if err := l.putOnce(ctx, item, seen, "seen event "+seen.Key); err != nil {
			return err
		}
	}
	for _, a := range p.Audit {
		if err := l.putOnce(ctx, auditKey(a), a, "audit entry "+a.ID); err != nil {
			return err
		}
	}
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &l.table,
		Key:                       key("C#"+c.Key, "-"),
		UpdateExpression:          aws.String("REMOVE pending"),
		ConditionExpression:       aws.String("version = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": n(c.Version)},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return classify(fmt.Errorf("dynamodb ledger: finish commit of %s: %w", c.Key, err), l.table)
	}
	return nil
}

// putEngagementOnce writes a record whose version a commit moved from
// Version-1 to Version; finding it at Version already is success.
func (l *Ledger) putEngagementOnce(ctx context.Context, e engagement.Engagement) error {
	item := engagementKey(e.ID)
	if due := e.DueAt(); !due.IsZero() {
		item["state"] = s(string(e.State))
		item["due"] = s(due.UTC().Format(dueLayout) + "#" + e.ID)
	}
	err := l.put(ctx, item, e, e.Version, e.Version-1, "engagement "+e.ID)
	if !fault.Is(err, fault.Conflict) {
		return err
	}
	var stored engagement.Engagement
	if found, gerr := l.get(ctx, engagementKey(e.ID), &stored); gerr != nil || !found || stored.Version < e.Version {
		return fmt.Errorf("dynamodb ledger: engagement %s is neither at version %d nor %d: %w", e.ID, e.Version-1, e.Version, err)
	}
	return nil
}

// putOnce writes an item that is never changed once written: finding it is
// success.
func (l *Ledger) putOnce(ctx context.Context, item map[string]types.AttributeValue, record any, what string) error {
	body, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("dynamodb ledger: encode %s: %w", what, err)
	}
	item["record"] = s(string(body))
	_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &l.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return classify(fmt.Errorf("dynamodb ledger: write %s: %w", what, err), l.table)
	}
	return nil
}

// contractorItem reads the contractor item and finishes any roll-forward it
// carries.
func (l *Ledger) contractorItem(ctx context.Context, k string) (engagement.Contractor, bool, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &l.table, Key: key("C#"+k, "-"), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return engagement.Contractor{}, false, classify(fmt.Errorf("dynamodb ledger: read contractor %s: %w", k, err), l.table)
	}
	if out.Item == nil {
		return engagement.Contractor{}, false, nil
	}
	var c engagement.Contractor
	if err := decode(out.Item, &c); err != nil {
		return c, false, err
	}
	if log, ok := out.Item["pending"].(*types.AttributeValueMemberS); ok {
		var p pending
		if err := json.Unmarshal([]byte(log.Value), &p); err != nil {
			return c, false, fmt.Errorf("dynamodb ledger: decode the pending commit of %s: %w", k, err)
		}
		if err := l.rollForward(ctx, c, p); err != nil {
			return c, false, err
		}
	}
	return c, true, nil
}

// Seen reads the note of a handled event.
func (l *Ledger) Seen(ctx context.Context, k string) (engagement.SeenEvent, error) {
	var seen engagement.SeenEvent
	found, err := l.get(ctx, key("S#"+k, "-"), &seen)
	if err == nil && !found {
		err = fault.Errorf(fault.NotFound, "dynamodb ledger: event %q not seen", k)
	}
	return seen, err
}
