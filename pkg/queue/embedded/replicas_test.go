package embedded_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/queue/embedded"
	"github.com/stintdev/stint/test/postgres"
)

// TestReplicas: several stint serve replicas, each a Queue with a *sql.DB
// of its own on one PostgreSQL database, are one queue.
func TestReplicas(t *testing.T) {
	b := postgresBackend(postgres.Start(t, postgres.Options{}))
	t.Run("open one database at once", func(t *testing.T) { openAtOnce(t, b) })
	t.Run("share the work: each message once, each contractor in order", func(t *testing.T) { shareTheWork(t, b) })
	t.Run("one message queued by two replicas at once", func(t *testing.T) { sameMessageAtOnce(t, b) })
	t.Run("a contractor's message slow to commit is not overtaken", func(t *testing.T) { slowCommitNotOvertaken(t, b) })
	t.Run("a replica wakes on another's change, and after its listener dropped", func(t *testing.T) { wakeOnAnothersChange(t, b) })
}

// Replicas starting together create the tables once, without failing on
// each other's CREATE TABLE.
func openAtOnce(t *testing.T, b backend) {
	where := b.fresh(t)
	const replicas = 8
	errs := make(chan error, replicas)
	for range replicas {
		db, _ := b.open(t, where)
		go func() {
			_, err := embedded.Open(context.Background(), db, embedded.Options{})
			errs <- err
		}()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Errorf("Open beside other replicas: %v", err)
		}
	}
}

// workBody is what a message of shareTheWork says: the n-th message of
// producer p for contractor c.
type workBody struct {
	C, P string
	N    int
}

// referee watches the handlers of all replicas: no contractor has two
// messages in hand at once (so no message is either), and records the
// order each producer's messages were handled in.
type referee struct {
	mu       sync.Mutex
	inHand   map[string]string // contractor → message id
	seen     map[string][]int  // contractor/producer → n, per attempt
	done     map[string]int    // message id → times handled to the end
	retried  map[string]bool
	problems []string
	finished chan struct{} // one per message done
}

func (r *referee) handle(_ context.Context, m engagement.Message) engagement.Verdict {
	var body workBody
	if err := json.Unmarshal(m.Body, &body); err != nil {
		r.problem("%s: body %q: %v", m.ID, m.Body, err)
		return engagement.Verdict{Outcome: engagement.Dead, Err: err}
	}
	r.mu.Lock()
	if other, ok := r.inHand[m.Group]; ok {
		r.problems = append(r.problems, fmt.Sprintf("%s handed out while %s of the same contractor was in hand", m.ID, other))
	}
	r.inHand[m.Group] = m.ID
	key := body.C + "/" + body.P
	r.seen[key] = append(r.seen[key], body.N)
	r.mu.Unlock()

	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) // a handler's work: others run meanwhile

	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.inHand, m.Group)
	if body.N%5 == 2 && !r.retried[m.ID] {
		r.retried[m.ID] = true
		return engagement.Verdict{Outcome: engagement.Retry, Err: fault.Errorf(fault.Transient, "Graph answered 503")}
	}
	r.done[m.ID]++
	r.finished <- struct{}{}
	return engagement.Verdict{Outcome: engagement.Done}
}

func (r *referee) problem(format string, args ...any) {
	r.mu.Lock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// lockedBuffer collects the consumers' logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Four replicas with three workers each take 320 messages of 20
// contractors, queued while they run by two producers per contractor, each
// producer's messages through the replicas in turn; every fifth message
// fails once and is retried, maybe by another replica. Every message is
// handled to the end once, no contractor has two messages in hand at once,
// and each producer's messages are handled in the order it queued them.
// MaxWait is a minute: the workers must learn of other replicas' changes
// from their notifications.
func shareTheWork(t *testing.T, b backend) {
	const replicas, workers, contractors, perProducer = 4, 3, 20, 8
	producers := []string{"a", "b"}
	total := contractors * len(producers) * perProducer
	where := b.fresh(t)
	o := embedded.Options{Visibility: 30 * time.Second, Backoff: 20 * time.Millisecond, MaxWait: time.Minute}
	qs := make([]*embedded.Queue, replicas)
	for i := range qs {
		qs[i], _ = openQueue(t, b, where, o)
	}
	r := &referee{inHand: map[string]string{}, seen: map[string][]int{}, done: map[string]int{}, retried: map[string]bool{}, finished: make(chan struct{}, total*2)}
	logs := &lockedBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	var running sync.WaitGroup
	for _, q := range qs { // a consumer per replica, as stint serve runs it
		c := &embedded.Consumer{Queue: q, Handle: r.handle, Workers: workers, Handling: 10 * time.Second, Log: slog.New(slog.NewTextHandler(logs, nil))}
		running.Go(func() { c.Run(ctx) })
	}
	defer func() { stop(); running.Wait() }()

	var producing sync.WaitGroup
	for c := range contractors {
		for pi, p := range producers {
			producing.Go(func() {
				for n := range perProducer {
					id := fmt.Sprintf("c%02d/%s-%d", c, p, n)
					body, _ := json.Marshal(workBody{C: fmt.Sprintf("c%02d", c), P: p, N: n})
					m := engagement.Message{ID: id, Digest: id, Group: fmt.Sprintf("c%02d@x.example", c), Body: body}
					if err := qs[(c+pi+n)%replicas].Enqueue(context.Background(), m); err != nil {
						r.problem("enqueue %s: %v", id, err)
					}
				}
			})
		}
	}
	producing.Wait()

	deadline := time.After(2 * time.Minute)
	for range total {
		select {
		case <-r.finished:
		case <-deadline:
			r.mu.Lock()
			t.Fatalf("%d of %d messages handled within 2 minutes; problems: %v", len(r.done), total, r.problems)
		}
	}
	time.Sleep(200 * time.Millisecond) // a message handled twice would come now
	stop()
	running.Wait()

	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.problems {
		t.Error(p)
	}
	for id, n := range r.done {
		if n != 1 {
			t.Errorf("%s handled to the end %d times, want once", id, n)
		}
	}
	if len(r.done) != total {
		t.Errorf("%d messages handled, want %d", len(r.done), total)
	}
	var want []int // each n once, twice when it failed once
	for n := range perProducer {
		want = append(want, n)
		if n%5 == 2 {
			want = append(want, n)
		}
	}
	for key, got := range r.seen {
		if !slices.Equal(got, want) {
			t.Errorf("%s's messages handled as %v, want %v", key, got, want)
		}
	}
	if n, err := qs[0].Len(context.Background()); err != nil || n != 0 {
		t.Errorf("Len = %d, %v after all was handled, want 0", n, err)
	}
	if s := logs.String(); s != "" {
		t.Errorf("the consumers logged errors:\n%s", s)
	}
}

// The same message, sent to several replicas at once (a webhook retried),
// is accepted by each and queued once; also on a server whose default
// isolation is serializable (the queue asks for READ COMMITTED).
func sameMessageAtOnce(t *testing.T, b backend) {
	where := b.fresh(t)
	admin, _ := b.open(t, where)
	if _, err := admin.Exec("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = serializable', current_database()); END $$"); err != nil {
		t.Fatal(err)
	}
	const replicas = 6
	qs := make([]*embedded.Queue, replicas)
	for i := range qs {
		qs[i], _ = openQueue(t, b, where, embedded.Options{})
	}
	m := engagement.Message{ID: "hr/x ev-1", Digest: "d1", Group: "g", Body: []byte(`{}`)}
	errs := make(chan error, replicas)
	for _, q := range qs {
		go func() { errs <- q.Enqueue(context.Background(), m) }()
	}
	for range replicas {
		if err := <-errs; err != nil {
			t.Errorf("Enqueue of a message another replica queues at the same time: %v, want accepted", err)
		}
	}
	if n, err := qs[0].Len(context.Background()); err != nil || n != 1 {
		t.Errorf("Len = %d, %v; want the message queued once", n, err)
	}
}

// One replica queues a contractor's message and is slow to commit it (a
// trigger on this test's database sleeps in its INSERT), while another
// replica queues the contractor's next message. A third replica receiving
// all the while gets the first message, and no other of the contractor's
// while it is leased: the second is not handed out ahead of the first,
// then the first beside it once it commits.
func slowCommitNotOvertaken(t *testing.T, b backend) {
	ctx := context.Background()
	where := b.fresh(t)
	o := embedded.Options{Visibility: time.Minute}
	slow, _ := openQueue(t, b, where, o)
	fast, _ := openQueue(t, b, where, o)
	receiver, _ := openQueue(t, b, where, o)
	admin, _ := b.open(t, where)
	if _, err := admin.Exec(`
		CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.id = 'first' THEN PERFORM pg_sleep(0.5); END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER slow_insert AFTER INSERT ON queue FOR EACH ROW EXECUTE FUNCTION slow_insert();`); err != nil {
		t.Fatal(err)
	}
	var queuing sync.WaitGroup
	queuing.Go(func() {
		if err := slow.Enqueue(ctx, msg("first", "g")); err != nil {
			t.Errorf("enqueue first: %v", err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; { // until the first is inserted, not committed
		var n int
		admin.QueryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'").Scan(&n)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first message's INSERT did not reach its trigger's sleep within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	queuing.Go(func() {
		if err := fast.Enqueue(ctx, msg("second", "g")); err != nil {
			t.Errorf("enqueue second: %v", err)
		}
	})
	queued := make(chan struct{})
	go func() { queuing.Wait(); close(queued) }()
	var leased []string
	for receiving := true; receiving; {
		select {
		case <-queued:
			receiving = false // and one more Receive, with both committed
		case <-time.After(5 * time.Millisecond):
		}
		got, err := receiver.Receive(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		leased = append(leased, ids(got)...)
	}
	if !slices.Equal(leased, []string{"first"}) {
		t.Errorf("leased %v (none acknowledged), want [first]: the contractor's first message, and nothing else of theirs while it is leased", leased)
	}
}

// A replica's Wait wakes when another replica queues a message, long
// before MaxWait; and again so after its listener's connection was cut
// and it connected anew. Close ends the listener's connection.
func wakeOnAnothersChange(t *testing.T, b backend) {
	where := b.fresh(t)
	o := embedded.Options{MaxWait: time.Minute}
	sender, _ := openQueue(t, b, where, o)
	waiter, _ := openQueue(t, b, where, o)
	admin, _ := b.open(t, where)

	waiter.Changed() // starts the listener
	pid := listening(t, admin, 0)
	assertWakes(t, sender, waiter, "a1")

	if _, err := admin.Exec("SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	listening(t, admin, pid)
	assertWakes(t, sender, waiter, "a2")

	waiter.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'stint queue listener'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener's connection still open 10 s after Close, want it closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listening waits until a listener other than old has taken hold, and
// returns its backend's pid.
func listening(t *testing.T, admin *sql.DB, old int) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var pid int
		err := admin.QueryRow(`SELECT pid FROM pg_stat_activity
			WHERE application_name = 'stint queue listener' AND state = 'idle' AND pid <> $1`, old).Scan(&pid)
		if err == nil {
			time.Sleep(100 * time.Millisecond) // its first wake, on taking hold, is over
			return pid
		}
		if !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("no queue listener in pg_stat_activity within 15 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// assertWakes checks that waiter's Wait sleeps while nothing changes, and
// wakes within seconds when sender queues a message. A listener that has
// just taken hold wakes its waiters once (for what it may have missed),
// which a loaded machine may deliver late, inside the quiet time: one wake
// there is allowed, more would be Wait not sleeping.
func assertWakes(t *testing.T, sender, waiter *embedded.Queue, id string) {
	t.Helper()
	ctx := context.Background()
	quiet, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	wakes := 0
	for quiet.Err() == nil {
		waiter.Wait(quiet, waiter.Changed())
		if quiet.Err() == nil {
			wakes++
		}
	}
	cancel()
	if wakes > 1 {
		t.Fatalf("Wait returned %d times in 300 ms with nothing changing, want it to sleep", wakes)
	}
	changed := waiter.Changed()
	woke := make(chan time.Duration, 1)
	go func() { start := time.Now(); waiter.Wait(ctx, changed); woke <- time.Since(start) }()
	if err := sender.Enqueue(ctx, msg(id, "g")); err != nil {
		t.Fatal(err)
	}
	select {
	case waited := <-woke:
		if waited > 10*time.Second {
			t.Errorf("Wait woke after %v, want soon after another replica queued %s", waited, id)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Wait did not wake within 20 s when another replica queued %s (MaxWait is a minute)", id)
	}
	got, err := waiter.Receive(ctx, 1) // the queue is empty again for the next check
	if err != nil || len(got) != 1 || got[0].ID != id {
		t.Fatalf("Receive = %v, %v; want %s", ids(got), err, id)
	}
	if err := waiter.Ack(ctx, id); err != nil {
		t.Fatal(err)
	}
}

// nodb is a database/sql driver that is neither SQLite nor PostgreSQL.
type nodb struct{}

func (nodb) Open(string) (driver.Conn, error) { return nil, errors.New("nodb: no database") }

func init() { sql.Register("embedded-test-nodb", nodb{}) }

// Open refuses a database whose driver it does not know, naming the
// drivers it takes, before it runs any SQL.
func TestOpenRefusesAnUnknownDriver(t *testing.T) {
	db, err := sql.Open("embedded-test-nodb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = embedded.Open(context.Background(), db, embedded.Options{})
	if err == nil || !strings.Contains(err.Error(), `"sqlite"`) || !strings.Contains(err.Error(), `"pgx"`) {
		t.Errorf("Open with an unknown driver = %v, want an error naming the sqlite and pgx drivers", err)
	}
}
