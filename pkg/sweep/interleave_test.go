package sweep_test

import (
	"context"
	"iter"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra/entratest"
	"github.com/stintdev/stint/pkg/event"
	"github.com/stintdev/stint/pkg/ledger/dynamo"
	"github.com/stintdev/stint/test/dynalite"
)

var dynamoServer struct {
	once sync.Once
	srv  *dynalite.Server
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dynamoServer.srv != nil {
		dynamoServer.srv.Stop()
	}
	os.Exit(code)
}

// onLedgers runs f on the SQLite ledger and on DynamoDB.
func onLedgers(t *testing.T, f func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { f(t, newEnv(t, entratest.Options{})) })
	t.Run("dynamodb", func(t *testing.T) {
		dynamoServer.once.Do(func() { dynamoServer.srv, dynamoServer.err = dynalite.Start() })
		if dynamoServer.err != nil {
			t.Fatal(dynamoServer.err)
		}
		ctx := context.Background()
		table := dynalite.Table(t)
		if err := dynamo.CreateTable(ctx, dynamoServer.srv.Client(), table); err != nil {
			t.Fatal(err)
		}
		l, err := dynamo.New(ctx, dynamoServer.srv.Client(), table)
		if err != nil {
			t.Fatal(err)
		}
		e := newEnv(t, entratest.Options{})
		e.worker.Ledger, e.sweeper.Ledger = l, l
		f(t, e)
	})
}

// listing is the directory whose group listing runs then when it is done:
// something happening between the reconcile's reading and its acting.
type listing struct {
	engagement.Directory
	then func()
}

func (l listing) Members(ctx context.Context, groupID string) iter.Seq2[engagement.User, error] {
	return func(yield func(engagement.User, error) bool) {
		for u, err := range l.Directory.Members(ctx, groupID) {
			if !yield(u, err) {
				return
			}
		}
		if l.then != nil {
			l.then()
		}
	}
}

// The reconcile finds an active contractor missing from her group (removed
// by hand) while HR's end of her engagement is processed: it must not put
// her back — its reading is stale by the time it acts.
func TestReconcileDoesNotUndoAnEndProcessedMeanwhile(t *testing.T) {
	onLedgers(t, func(t *testing.T, e *env) {
		e.start(t, "ana@partner.example", e.at(-10), e.at(60))
		ana, _ := e.tenant.UserByMail("ana@partner.example")
		e.tenant.RemoveMember(e.groups["contractor-access"], ana.ID) // by hand
		end := event.Event{SpecVersion: "1.0", ID: "end-ana", Source: "hr/test", Type: event.Ended, Time: e.now, Subject: "ENG-ana",
			Data: event.Data{EngagementID: "ENG-ana", Contractor: event.Contractor{Email: "ana@partner.example"}}}
		once := sync.Once{}
		e.sweeper.Directory = listing{Directory: e.sweeper.Directory, then: func() {
			once.Do(func() {
				if _, err := e.worker.HandleEvent(context.Background(), end); err != nil {
					t.Errorf("the end: %v", err)
				}
			})
		}}
		e.now = e.now.Add(time.Minute)
		e.run(t, "reconcile", false)
		ana, _ = e.tenant.UserByMail("ana@partner.example")
		if slices.Contains(e.tenant.Members(e.groups["contractor-access"]), ana.ID) || ana.AccountEnabled {
			t.Errorf("after the reconcile: member %v, enabled %v; want the end to stand", slices.Contains(e.tenant.Members(e.groups["contractor-access"]), ana.ID), ana.AccountEnabled)
		}
	})
}
