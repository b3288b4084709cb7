// Package dynamo is the serverless ledger: one DynamoDB table, written with
// conditional puts (optimistic concurrency on a version attribute).
//
// Table layout (key: pk HASH, sk RANGE, both strings):
//
//	pk              sk           what
//	E#<engagement>  -            an engagement record; while not ended it also
//	                             carries state and due, indexed by "by-due"
//	C#<contractor>  -            what stint applied for a contractor; while a
//	                             commit is being rolled forward, also its
//	                             redo log ("pending"; see Commit)
//	C#<contractor>  engagements  the ids of the contractor's engagements (a string set)
//	A#<contractor>  <entry id>   an audit entry
//	S#<event key>   -            a handled event (source and id), for
//	                             duplicate detection
//	M               <key>        a mark: a small named note (value); one
//	                             partition, so a prefix is a Query, not a Scan
//
// The "by-due" global secondary index (HASH state, RANGE due, where due is
// "<UTC time, fixed width>#<id>") serves the tick's due queries and the
// reconciler's list of active records. It is sparse: ended records leave it
// (unless a retry is due). Contractor records and audit entries are listed
// through it too (state "contractor#NN" / "audit#NN", due their key / id;
// see listing.go), so nothing scans the table.
// Index reads are eventually consistent, which costs the tick at most one
// round and the reconciler nothing (it has a grace period).
//
// Reads by key are strongly consistent. A contractor's engagements are read
// through the id set, not an index, because the worker must see an
// engagement the moment it is written: the id is added to the set before the
// record is created (adding is idempotent), and readers skip ids whose record
// is missing or belongs to someone else, as a failed create leaves behind.
//
// DynamoDB-compatible servers without transactions (dynalite) are enough:
// nothing here needs TransactWriteItems. A Commit is atomic through a redo
// log on the contractor item (see pending in commit.go).
package dynamo

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/oklog/ulid/v2"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// DueIndex is the name of the global secondary index the due queries use.
const DueIndex = "by-due"

const dueLayout = "2006-01-02T15:04:05.000000000Z"

// Ledger is an engagement.Ledger on a DynamoDB table.
type Ledger struct {
	db    *dynamodb.Client
	table string
	now   func() time.Time
}

var _ engagement.Ledger = (*Ledger)(nil)

// Open builds a client from the AWS SDK's standard configuration (region,
// credentials, AWS_ENDPOINT_URL_DYNAMODB) and checks that the table exists.
func Open(ctx context.Context, table string) (*Ledger, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("dynamodb ledger: load AWS configuration: %w", err)
	}
	return New(ctx, dynamodb.NewFromConfig(cfg), table)
}

// New wraps a client and checks that the table exists.
func New(ctx context.Context, db *dynamodb.Client, table string) (*Ledger, error) {
	if table == "" {
		return nil, fault.Errorf(fault.Invalid, "dynamodb ledger: empty table name (want dynamodb://stint-ledger)")
	}
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &table}); err != nil {
		// At start-up a missing table or permission is a configuration to
		// fix, not an outage to wait out.
		var missing *types.ResourceNotFoundException
		var api smithy.APIError
		switch {
		case errors.As(err, &missing):
			return nil, fault.Errorf(fault.Invalid, "dynamodb ledger: table %q does not exist (%v): create it first (see infra/)", table, err)
		case errors.As(err, &api) && api.ErrorCode() == "AccessDeniedException":
			return nil, fault.Errorf(fault.Unauthorized, "dynamodb ledger: table %q: access denied (%v): grant this function's role the DynamoDB actions in infra/", table, err)
		}
		return nil, classify(fmt.Errorf("dynamodb ledger: table %q: %w", table, err), table)
	}
	return &Ledger{db: db, table: table, now: time.Now}, nil
}

// CreateTable creates the table and its index, pay-per-request, and waits
// until it is active. Deployments normally create it with Terraform (infra/);
// this is for tests and local servers.
func CreateTable(ctx context.Context, db *dynamodb.Client, table string) error {
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            &table,
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str("pk"), str("sk"), str("state"), str("due")},
		KeySchema:            key("pk", "sk"),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(DueIndex),
			KeySchema:  key("state", "due"),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	})
	if err != nil {
		return fmt.Errorf("dynamodb ledger: create table %s: %w", table, err)
	}
	w := dynamodb.NewTableExistsWaiter(db, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: &table}, time.Minute); err != nil {
		return fmt.Errorf("dynamodb ledger: wait for table %s: %w", table, err)
	}
	return nil
}

// Close releases nothing: the client holds no resources of its own.
func (l *Ledger) Close() error { return nil }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": s(pk), "sk": s(sk)}
}

func engagementKey(id string) map[string]types.AttributeValue { return key("E#"+id, "-") }

// Engagement reads one record, strongly consistent.
func (l *Ledger) Engagement(ctx context.Context, id string) (engagement.Engagement, error) {
	var e engagement.Engagement
	found, err := l.get(ctx, engagementKey(id), &e)
	if err == nil && !found {
		err = fault.Errorf(fault.NotFound, "dynamodb ledger: engagement %q not found", id)
	}
	return e, err
}

// ContractorEngagements reads the contractor (finishing a commit a crash
// interrupted), its id set, then each record.
func (l *Ledger) ContractorEngagements(ctx context.Context, contractor string) ([]engagement.Engagement, error) {
	if _, _, err := l.contractorItem(ctx, contractor); err != nil {
		return nil, err
	}
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &l.table, Key: key("C#"+contractor, "engagements"), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, classify(fmt.Errorf("dynamodb ledger: read engagements of %s: %w", contractor, err), l.table)
	}
	set, _ := out.Item["ids"].(*types.AttributeValueMemberSS)
	if set == nil {
		return nil, nil
	}
	ids := slices.Sorted(slices.Values(set.Value))
	var recs []engagement.Engagement
	for batch := range slices.Chunk(ids, 100) {
		got, err := l.batchGet(ctx, batch)
		if err != nil {
			return nil, err
		}
		for _, e := range got {
			if e.Contractor == contractor {
				recs = append(recs, e)
			}
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].ID < recs[j].ID })
	return recs, nil
}

func (l *Ledger) batchGet(ctx context.Context, ids []string) ([]engagement.Engagement, error) {
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = engagementKey(id)
	}
	var recs []engagement.Engagement
	for len(keys) > 0 {
		out, err := l.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{l.table: {Keys: keys, ConsistentRead: aws.Bool(true)}},
		})
		if err != nil {
			return nil, classify(fmt.Errorf("dynamodb ledger: read engagements: %w", err), l.table)
		}
		for _, item := range out.Responses[l.table] {
			var e engagement.Engagement
			if err := decode(item, &e); err != nil {
				return nil, err
			}
			recs = append(recs, e)
		}
		// Keys DynamoDB did not get to (throttling) come back to be asked again.
		keys = out.UnprocessedKeys[l.table].Keys
		if len(keys) > 0 {
			select {
			case <-ctx.Done():
				return nil, fault.Wrap(fault.Transient, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return recs, nil
}

// Due lists the records whose due time has come, oldest first: one query
// of the index per state, merged.
func (l *Ledger) Due(ctx context.Context, now time.Time, limit int) ([]engagement.Engagement, error) {
	var out []engagement.Engagement
	for _, state := range []engagement.Status{engagement.Pending, engagement.Active, engagement.Ended} {
		recs, err := l.due(ctx, state, now, limit)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	slices.SortFunc(out, func(a, b engagement.Engagement) int {
		return cmp.Or(a.DueAt().Compare(b.DueAt()), strings.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (l *Ledger) due(ctx context.Context, state engagement.Status, now time.Time, limit int) ([]engagement.Engagement, error) {
	// "#" < "$": every due key of an instant up to now sorts below the bound.
	bound := now.UTC().Format(dueLayout) + "$"
	var out []engagement.Engagement
	for e, err := range l.query(ctx, state, &bound) {
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// Active yields the records in State active, page by page.
func (l *Ledger) Active(ctx context.Context) iter.Seq2[engagement.Engagement, error] {
	return l.query(ctx, engagement.Active, nil)
}

func (l *Ledger) query(ctx context.Context, state engagement.Status, bound *string) iter.Seq2[engagement.Engagement, error] {
	in := &dynamodb.QueryInput{
		TableName:                 &l.table,
		IndexName:                 aws.String(DueIndex),
		KeyConditionExpression:    aws.String("#state = :state"),
		ExpressionAttributeNames:  map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":state": s(string(state))},
	}
	if bound != nil {
		in.KeyConditionExpression = aws.String("#state = :state AND due < :bound")
		in.ExpressionAttributeValues[":bound"] = s(*bound)
	}
	return func(yield func(engagement.Engagement, error) bool) {
		pages := dynamodb.NewQueryPaginator(l.db, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				yield(engagement.Engagement{}, classify(fmt.Errorf("dynamodb ledger: query %s records: %w", state, err), l.table))
				return
			}
			for _, item := range page.Items {
				var e engagement.Engagement
				if err := decode(item, &e); err != nil {
					yield(e, err)
					return
				}
				if !yield(e, nil) {
					return
				}
			}
		}
	}
}

// Marks queries the notes whose key starts with prefix.
func (l *Ledger) Marks(ctx context.Context, prefix string) (map[string]string, error) {
	out := map[string]string{}
	in := &dynamodb.QueryInput{
		TableName:                 &l.table,
		KeyConditionExpression:    aws.String("pk = :m"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": s("M")},
		ConsistentRead:            aws.Bool(true),
	}
	if prefix != "" {
		in.KeyConditionExpression = aws.String("pk = :m AND begins_with(sk, :prefix)")
		in.ExpressionAttributeValues[":prefix"] = s(prefix)
	}
	pages := dynamodb.NewQueryPaginator(l.db, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, classify(fmt.Errorf("dynamodb ledger: read marks: %w", err), l.table)
		}
		for _, item := range page.Items {
			k, _ := item["sk"].(*types.AttributeValueMemberS)
			v, _ := item["value"].(*types.AttributeValueMemberS)
			if k != nil && v != nil {
				out[k.Value] = v.Value
			}
		}
	}
	return out, nil
}

// SetMark writes a note.
func (l *Ledger) SetMark(ctx context.Context, k, value string) error {
	item := key("M", k)
	item["value"] = s(value)
	_, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &l.table, Item: item})
	return classify(err, l.table)
}

// DeleteMark removes a note.
func (l *Ledger) DeleteMark(ctx context.Context, k string) error {
	_, err := l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &l.table, Key: key("M", k)})
	return classify(err, l.table)
}

// Contractor reads what stint applied for one contractor, finishing a
// commit a crash interrupted.
func (l *Ledger) Contractor(ctx context.Context, k string) (engagement.Contractor, error) {
	c, found, err := l.contractorItem(ctx, k)
	if err == nil && !found {
		err = fault.Errorf(fault.NotFound, "dynamodb ledger: contractor %q not found", k)
	}
	return c, err
}

// PutContractor stores c if its Version is the stored one.
func (l *Ledger) PutContractor(ctx context.Context, c engagement.Contractor) (engagement.Contractor, error) {
	if c.Key == "" {
		return c, fault.Errorf(fault.Invalid, "dynamodb ledger: contractor needs a key")
	}
	stored := c
	stored.Version, stored.UpdatedAt = c.Version+1, l.now().UTC()
	if err := l.put(ctx, contractorKey(c.Key), stored, stored.Version, c.Version, "contractor "+c.Key); err != nil {
		return c, err
	}
	return stored, nil
}

// Append writes each entry once; an existing id is a conflict.
func (l *Ledger) Append(ctx context.Context, entries ...engagement.AuditEntry) error {
	for _, a := range entries {
		if a.ID == "" {
			a.ID = ulid.Make().String()
		}
		if a.At.IsZero() {
			a.At = l.now()
		}
		a.At = a.At.UTC()
		item := auditKey(a)
		body, err := json.Marshal(a)
		if err != nil {
			return fmt.Errorf("dynamodb ledger: encode audit entry: %w", err)
		}
		item["record"] = s(string(body))
		_, err = l.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &l.table, Item: item, ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		if err != nil {
			return classify(fmt.Errorf("dynamodb ledger: append audit entry %s: %w", a.ID, err), l.table)
		}
	}
	return nil
}

func (l *Ledger) get(ctx context.Context, k map[string]types.AttributeValue, into any) (bool, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &l.table, Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, classify(fmt.Errorf("dynamodb ledger: read %v: %w", k["pk"], err), l.table)
	}
	if out.Item == nil {
		return false, nil
	}
	return true, decode(out.Item, into)
}

// put writes item with record and version, on condition that the stored
// version is prev (or that nothing is stored, for prev 0).
func (l *Ledger) put(ctx context.Context, item map[string]types.AttributeValue, record any, version, prev int64, what string) error {
	body, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("dynamodb ledger: encode %s: %w", what, err)
	}
	item["record"], item["version"] = s(string(body)), n(version)
	in := &dynamodb.PutItemInput{TableName: &l.table, Item: item}
	if prev == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("version = :prev")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":prev": n(prev)}
	}
	_, err = l.db.PutItem(ctx, in)
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed) && prev == 0:
		return fault.Errorf(fault.Conflict, "dynamodb ledger: %s already exists", what)
	case errors.As(err, &failed):
		return fault.Errorf(fault.Conflict, "dynamodb ledger: %s changed since version %d was read", what, prev)
	case err != nil:
		return classify(fmt.Errorf("dynamodb ledger: write %s: %w", what, err), l.table)
	}
	return nil
}

func decode(item map[string]types.AttributeValue, into any) error {
	body, ok := item["record"].(*types.AttributeValueMemberS)
	if !ok {
		return fmt.Errorf("dynamodb ledger: item %v has no record attribute", item["pk"])
	}
	if err := json.Unmarshal([]byte(body.Value), into); err != nil {
		return fmt.Errorf("dynamodb ledger: decode item %v: %w", item["pk"], err)
	}
	return nil
}

// classify maps DynamoDB's errors onto stint's codes. The SDK has already
// retried throttling and 5xx by the time an error reaches here.
//
// A missing table or a denied action while running (the table deleted, an
// IAM policy changed) is transient: every event would fail alike, and
// dead-lettering the whole stream for a configuration fixed minutes later
// would lose the order of events. They are retried; the queue's redrive
// policy and its alarm catch one that lasts. (At start-up, New refuses
// them at once.)
func classify(err error, table string) error {
	var (
		missing *types.ResourceNotFoundException
		api     smithy.APIError
		netErr  net.Error
		failed  *types.ConditionalCheckFailedException
	)
	switch {
	case errors.As(err, &failed):
		return fault.Wrap(fault.Conflict, err)
	case errors.As(err, &missing):
		return fault.Errorf(fault.Transient, "%w (table %q is missing: create it, see infra/; retried meanwhile)", err, table)
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"InternalServerError", "ServiceUnavailable", "LimitExceededException":
			return fault.Wrap(fault.Transient, err)
		case "AccessDeniedException":
			return fault.Errorf(fault.Transient, "%w (grant this function's role the DynamoDB actions in infra/; retried meanwhile)", err)
		case "UnrecognizedClientException", "InvalidSignatureException",
			"ExpiredTokenException", "MissingAuthenticationTokenException":
			return fault.Wrap(fault.Unauthorized, err)
		case "ValidationException":
			// An item over DynamoDB's 400 KB, or a request stint built
			// wrong: retrying cannot help.
			return fault.Errorf(fault.Invalid, "%w (DynamoDB refused the request as invalid: an item over its 400 KB limit?)", err)
		}
		return err
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded):
		return fault.Wrap(fault.Transient, err)
	}
	return err
}
