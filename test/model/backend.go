package model

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/dynamo"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

// Queue is what the simulation needs from a queue: the embedded queue's
// operations, so that another backend can bring its own.
type Queue interface {
	engagement.Queue
	engagement.DeadLetters
	Receive(ctx context.Context, max int) ([]embedded.Message, error)
	Ack(ctx context.Context, id string) error
	Retry(ctx context.Context, m embedded.Message, reason error) error
	DeadLetters(ctx context.Context) ([]embedded.DeadLetter, error)
	Replay(ctx context.Context, seq int64) error
	Len(ctx context.Context) (int, error)
}

// Backend opens a fresh ledger and queue for one run, on the simulation's
// clock. Closing the ledger releases both.
type Backend interface {
	Name() string
	Open(ctx context.Context, dir string, now func() time.Time) (engagement.Ledger, Queue, error)
}

// queueOptions are the embedded queue's settings in every run: the host's
// lease and attempts, on the simulation's clock.
func queueOptions(now func() time.Time) embedded.Options {
	return embedded.Options{Visibility: time.Minute, MaxAttempts: 10, Backoff: time.Second, Now: now}
}

// SQLite is the embedded default: the SQLite ledger with the embedded
// queue in the same file.
type SQLite struct{}

// Name names the backend in reports.
func (SQLite) Name() string { return "sqlite" }

// Open creates the ledger and queue under dir.
func (SQLite) Open(ctx context.Context, dir string, now func() time.Time) (engagement.Ledger, Queue, error) {
	l, err := sqlite.Open(ctx, filepath.Join(dir, "stint.db"))
	if err != nil {
		return nil, nil, err
	}
	q, err := embedded.Open(ctx, l.DB(), queueOptions(now))
	if err != nil {
		l.Close()
		return nil, nil, err
	}
	return l, q, nil
}

// DynamoDB is the serverless ledger (pkg/ledger/dynamo) in a fresh table
// of a DynamoDB-compatible server (dynalite in the tests), with the
// embedded queue in a SQLite file of its own: SQS (pkg/queue/sqs against
// test/sqsfake) keeps the wall clock — its visibility timeouts and its
// five-minute deduplication window — which the simulation cannot move
// (see doc.go, "What is simplified").
type DynamoDB struct {
	Client *dynamodb.Client
}

// tables numbers the tables made in this process.
var tables atomic.Int64

// Name names the backend in reports.
func (DynamoDB) Name() string { return "dynamodb" }

// Open creates a table (deleted again when the ledger is closed) and the
// queue's file under dir.
func (d DynamoDB) Open(ctx context.Context, dir string, now func() time.Time) (engagement.Ledger, Queue, error) {
	table := fmt.Sprintf("model-%d-%d", time.Now().UnixNano(), tables.Add(1))
	if err := dynamo.CreateTable(ctx, d.Client, table); err != nil {
		return nil, nil, err
	}
	drop := func() error {
		_, err := d.Client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: &table})
		return err
	}
	l, err := dynamo.New(ctx, d.Client, table)
	if err != nil {
		return nil, nil, errors.Join(err, drop())
	}
	file, err := sqlite.Open(ctx, filepath.Join(dir, "queue.db"))
	if err != nil {
		return nil, nil, errors.Join(err, drop())
	}
	q, err := embedded.Open(ctx, file.DB(), queueOptions(now))
	if err != nil {
		return nil, nil, errors.Join(err, file.Close(), drop())
	}
	return &owned{Ledger: l, close: func() error { return errors.Join(file.Close(), drop()) }}, q, nil
}

// owned is a ledger that releases more than itself when closed.
type owned struct {
	engagement.Ledger
	close func() error
}

func (o *owned) Close() error { return errors.Join(o.Ledger.Close(), o.close()) }
