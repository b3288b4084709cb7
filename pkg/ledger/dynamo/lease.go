package dynamo

import (
	"context"
	"errors"
	"fmt"

	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Lease takes the named lease (item L#<name>) with one conditional put.
func (l *Ledger) Lease(ctx context.Context, name, holder string, now, until time.Time) (bool, error) {
	item := key("L#"+name, "-")
	item["holder"], item["until"] = s(holder), n(until.UnixNano())
	_, err := l.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 &l.table,
		Item:                      item,
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR #until <= :now OR holder = :holder"),
		ExpressionAttributeNames:  map[string]string{"#until": "until"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": n(now.UnixNano()), ":holder": s(holder)},
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed):
		return false, nil
	case err != nil:
		return false, classify(fmt.Errorf("dynamodb ledger: take lease %s: %w", name, err), l.table)
	}
	return true, nil
}

// Release gives the lease back if holder has it.
func (l *Ledger) Release(ctx context.Context, name, holder string) error {
	_, err := l.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 &l.table,
		Key:                       key("L#"+name, "-"),
		ConditionExpression:       aws.String("holder = :holder"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":holder": s(holder)},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return classify(fmt.Errorf("dynamodb ledger: release lease %s: %w", name, err), l.table)
	}
	return nil
}
