package dynamo_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/ledger/dynamo"
	"github.com/stintdev/stint/pkg/ledger/ledgertest"
	"github.com/stintdev/stint/test/dynalite"
)

var server *dynalite.Server

func TestMain(m *testing.M) {
	var err error
	server, err = dynalite.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

func openFresh(t *testing.T) *dynamo.Ledger {
	t.Helper()
	ctx := context.Background()
	db := server.Client()
	table := dynalite.Table(t)
	if err := dynamo.CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	l, err := dynamo.New(ctx, db, table)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConformance(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T) engagement.Ledger { return openFresh(t) })
}

func TestMissingTableIsAClearError(t *testing.T) {
	_, err := dynamo.New(context.Background(), server.Client(), "no-such-table")
	if !fault.Is(err, fault.Invalid) {
		t.Fatalf("New(missing table) error = %v, want invalid", err)
	}
	if want := `table "no-such-table" does not exist`; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to say %q", err, want)
	}
}

// A table that goes missing while stint runs (or a permission revoked) is
// retried, not dead-lettered with every event of the stream.
func TestMissingTableWhileRunningIsTransient(t *testing.T) {
	ctx := context.Background()
	table := dynalite.Table(t)
	if err := dynamo.CreateTable(ctx, server.Client(), table); err != nil {
		t.Fatal(err)
	}
	l, err := dynamo.New(ctx, server.Client(), table)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Client().DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Contractor(ctx, "ana@x.example"); !fault.Is(err, fault.Transient) {
		t.Errorf("a read after the table was deleted: %v, want transient", err)
	}
}

// A write DynamoDB refuses as invalid (here an item over its 400 KB) is a
// permanent error, named as such, not an unclassified one to retry.
func TestOversizeItemIsInvalid(t *testing.T) {
	l := openFresh(t)
	big := engagement.Contractor{Key: "big@x.example", Granted: []string{strings.Repeat("k", 450_000)}}
	_, _, err := l.Commit(context.Background(), engagement.Change{Contractor: big})
	if !fault.Is(err, fault.Invalid) || !strings.Contains(err.Error(), "400 KB") {
		t.Errorf("an oversize item: %v, want invalid, naming DynamoDB's limit", err)
	}
}
