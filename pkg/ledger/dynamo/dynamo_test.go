package dynamo_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

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
	if want := `create table "no-such-table" first`; !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to say %q", err, want)
	}
}
