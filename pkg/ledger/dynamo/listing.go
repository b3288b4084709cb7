package dynamo

import (
	"context"
	"fmt"
	"hash/fnv"
	"iter"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stintdev/stint/pkg/engagement"
)

// Contractor records and audit entries are listed through the by-due
// index too, never by scanning the table: each carries state
// "contractor#NN" or "audit#NN" and due = its key or entry id. NN is one of
// shards buckets by a hash of the contractor key, so that no one index
// partition takes every write of a burst (a partition takes about 1,000
// writes a second); a listing queries every bucket.
const shards = 16

func shard(kind, contractor string) string {
	h := fnv.New32a()
	h.Write([]byte(contractor))
	return fmt.Sprintf("%s#%02d", kind, h.Sum32()%shards)
}

// contractorKey is the item key of a contractor record, with its index
// attributes.
func contractorKey(k string) map[string]types.AttributeValue {
	item := key("C#"+k, "-")
	item["state"], item["due"] = s(shard("contractor", k)), s(k)
	return item
}

// auditKey is the item key of an audit entry, with its index attributes.
func auditKey(a engagement.AuditEntry) map[string]types.AttributeValue {
	item := key("A#"+a.Contractor, a.ID)
	item["state"], item["due"] = s(shard("audit", a.Contractor)), s(a.ID)
	return item
}

// Contractors yields every contractor record, bucket by bucket.
func (l *Ledger) Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error] {
	return func(yield func(engagement.Contractor, error) bool) {
		for i := range shards {
			for item, err := range l.bucket(ctx, fmt.Sprintf("contractor#%02d", i), true, 0) {
				var c engagement.Contractor
				if err == nil {
					err = decode(item, &c)
				}
				if !yield(c, err) || err != nil {
					return
				}
			}
		}
	}
}

// Audit reads the trail of one contractor, or all of it, oldest first; a
// Limit keeps the newest entries, read newest first and no more.
func (l *Ledger) Audit(ctx context.Context, q engagement.AuditQuery) ([]engagement.AuditEntry, error) {
	var out []engagement.AuditEntry
	read := func(items iter.Seq2[map[string]types.AttributeValue, error]) error {
		n := 0
		for item, err := range items {
			if err != nil {
				return err
			}
			var a engagement.AuditEntry
			if err := decode(item, &a); err != nil {
				return err
			}
			out = append(out, a)
			if n++; q.Limit > 0 && n == q.Limit {
				break
			}
		}
		return nil
	}
	if q.Contractor != "" {
		in := &dynamodb.QueryInput{
			TableName:                 &l.table,
			KeyConditionExpression:    aws.String("pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("A#" + q.Contractor)},
			ConsistentRead:            aws.Bool(true),
			ScanIndexForward:          aws.Bool(q.Limit == 0),
		}
		if err := read(l.pages(ctx, in, "read the audit of "+q.Contractor)); err != nil {
			return nil, err
		}
	} else {
		for i := range shards {
			if err := read(l.bucket(ctx, fmt.Sprintf("audit#%02d", i), q.Limit == 0, q.Limit)); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, func(a, b engagement.AuditEntry) int { return strings.Compare(a.ID, b.ID) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[len(out)-q.Limit:]
	}
	return out, nil
}

// bucket yields the items of one index bucket, in due order (forward) or
// reverse; limit > 0 reads no more pages than needed for it.
func (l *Ledger) bucket(ctx context.Context, state string, forward bool, limit int) iter.Seq2[map[string]types.AttributeValue, error] {
	in := &dynamodb.QueryInput{
		TableName:                 &l.table,
		IndexName:                 aws.String(DueIndex),
		KeyConditionExpression:    aws.String("#state = :state"),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":state": s(state)},
		ScanIndexForward:          aws.Bool(forward),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(min(limit, 1000)))
	}
	return l.pages(ctx, in, "list "+state)
}

// pages yields the items of a query, page by page.
func (l *Ledger) pages(ctx context.Context, in *dynamodb.QueryInput, what string) iter.Seq2[map[string]types.AttributeValue, error] {
	return func(yield func(map[string]types.AttributeValue, error) bool) {
		p := dynamodb.NewQueryPaginator(l.db, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(nil, classify(fmt.Errorf("dynamodb ledger: %s: %w", what, err), l.table))
				return
			}
			for _, item := range page.Items {
				if !yield(item, nil) {
					return
				}
			}
		}
	}
}
