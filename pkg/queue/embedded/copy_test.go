package embedded_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/test/postgres"
)

// Copy moves a SQLite queue into PostgreSQL: each contractor's messages
// come out in their order, the leased one free again, the dead letters
// with their reasons, and the remembered ids still refuse reuse; a second
// copy into the full queue is refused.
func TestCopySQLiteToPostgreSQL(t *testing.T) {
	ctx := context.Background()
	from := open(t, sqliteBackend(), embedded.Options{})
	for _, m := range []engagement.Message{msg("a1", "a"), msg("b1", "b"), msg("a2", "a"), msg("a3", "a"), msg("c1", "c")} {
		m.Digest = "d-" + m.ID
		if err := from.Enqueue(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := from.Receive(ctx, 1); err != nil || len(got) != 1 || got[0].ID != "a1" {
		t.Fatalf("Receive = %v, %v; want a1 leased", got, err)
	}
	if err := from.DeadLetter(ctx, msg("c1", "c"), fault.Errorf(fault.Invalid, "never")); err != nil {
		t.Fatal(err)
	}
	to := open(t, postgresBackend(postgres.Start(t, postgres.Options{})), embedded.Options{})
	counts, err := embedded.Copy(ctx, from, to)
	if want := (embedded.Counts{Queued: 4, DeadLetters: 1, Accepted: 5}); err != nil || counts != want {
		t.Fatalf("Copy = %+v, %v; want %+v", counts, err, want)
	}
	var order []string
	for {
		got, err := to.Receive(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		for _, m := range got {
			order = append(order, m.ID)
			if err := to.Ack(ctx, m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(order, []string{"a1", "b1", "a2", "a3"}) {
		t.Errorf("received %v from the copy, want a1 (no longer leased), b1, then a2 and a3 in order", order)
	}
	dead, err := to.DeadLetters(ctx)
	if err != nil || len(dead) != 1 || dead[0].ID != "c1" || dead[0].Code != "invalid" || dead[0].Reason != "never" {
		t.Errorf("dead letters of the copy: %+v, %v", dead, err)
	}
	reused := msg("a1", "a")
	reused.Digest = "other"
	if err := to.Enqueue(ctx, reused); !fault.Is(err, fault.Conflict) {
		t.Errorf("an id the source had accepted, with other content: %v, want refused", err)
	}
	if _, err := embedded.Copy(ctx, from, to); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("a second Copy into the full queue: %v, want refused", err)
	}
}
