package importer_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/importer"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
	"github.com/stintdev/stint/pkg/queue/embedded"
)

const threeRows = "email,name,access,end\n" +
	"ana@partner.example,Ana,contractor-access,2027-02-28\n" +
	"bo@vendor.example,Bo,github-org,2027-02-28\n" +
	"cy@studio.example,Cy,,2027-02-28\n"

// fakeLedger keeps marks and handled events in maps; failMark, when set,
// fails SetMark.
type fakeLedger struct {
	seen     map[string]engagement.SeenEvent
	marks    map[string]string
	failMark error
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{seen: map[string]engagement.SeenEvent{}, marks: map[string]string{}}
}

func (f *fakeLedger) Seen(_ context.Context, key string) (engagement.SeenEvent, error) {
	s, ok := f.seen[key]
	if !ok {
		return engagement.SeenEvent{}, fault.Errorf(fault.NotFound, "fake ledger: %s not seen", key)
	}
	return s, nil
}

func (f *fakeLedger) Marks(_ context.Context, prefix string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range f.marks {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out, nil
}

func (f *fakeLedger) SetMark(_ context.Context, key, value string) error {
	if f.failMark != nil {
		return f.failMark
	}
	f.marks[key] = value
	return nil
}

var _ importer.Ledger = (*fakeLedger)(nil)

// embeddedQueue is the embedded queue in a fresh SQLite file.
func embeddedQueue(tb testing.TB) *embedded.Queue {
	tb.Helper()
	_, q := sqliteStore(tb)
	return q
}

// sqliteStore is a fresh SQLite ledger and the embedded queue in it, as
// stint serve keeps them.
func sqliteStore(tb testing.TB) (*sqlite.Ledger, *embedded.Queue) {
	tb.Helper()
	l, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "stint.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	q, err := embedded.Open(context.Background(), l.DB(), embedded.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return l, q
}

// importAt builds the list against the ledger's earlier imports at the
// given time, and enqueues it.
func importAt(tb testing.TB, at time.Time, l *fakeLedger, q engagement.Queue, list string) (importer.Summary, error) {
	tb.Helper()
	imported, err := importer.Imported(context.Background(), l)
	if err != nil {
		tb.Fatal(err)
	}
	o := options()
	o.Now, o.Imported = at, imported
	items, problems := build(tb, list, o)
	if len(problems) > 0 {
		tb.Fatal(lines(problems))
	}
	return importer.Enqueue(context.Background(), l, q, items, nil)
}

func queueLen(tb testing.TB, q *embedded.Queue) int {
	tb.Helper()
	n, err := q.Len(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// The same list imported again, a day later, makes the same events: the
// queue takes none of them twice, and the import says so.
func TestImportingTwiceQueuesOnce(t *testing.T) {
	l, q := newFakeLedger(), embeddedQueue(t)
	first, err := importAt(t, now, l, q, threeRows)
	if err != nil || first != (importer.Summary{Rows: 3, Queued: 3}) {
		t.Fatalf("first import = %+v, %v; want 3 queued", first, err)
	}
	if len(l.marks) != 3 {
		t.Errorf("marks %v, want the first import's time of each row", l.marks)
	}
	again, err := importAt(t, now.Add(24*time.Hour), l, q, threeRows)
	if err != nil || again != (importer.Summary{Rows: 3, AlreadyQueued: 3}) {
		t.Errorf("second import = %+v, %v; want all 3 already queued", again, err)
	}
	if n := queueLen(t, q); n != 3 {
		t.Errorf("the queue holds %d messages, want 3", n)
	}
}

// Events the worker has applied are not queued again.
func TestImportSkipsAppliedEvents(t *testing.T) {
	l, q := newFakeLedger(), embeddedQueue(t)
	items, _ := build(t, threeRows, options())
	l.seen[items[1].Message.ID] = engagement.SeenEvent{Key: items[1].Message.ID, Digest: items[1].Message.Digest, Outcome: engagement.Applied}
	sum, err := importer.Enqueue(context.Background(), l, q, items, nil)
	if err != nil || sum != (importer.Summary{Rows: 3, Queued: 2, AlreadyApplied: 1}) {
		t.Errorf("import = %+v, %v; want 2 queued, 1 already applied", sum, err)
	}
}

// An event id the ledger holds with other content (its row's time lost)
// stops the import before anything is written.
func TestImportRefusesAnIDAppliedWithOtherContent(t *testing.T) {
	l, q := newFakeLedger(), embeddedQueue(t)
	items, _ := build(t, threeRows, options())
	l.seen[items[2].Message.ID] = engagement.SeenEvent{Key: items[2].Message.ID, Digest: "another", Outcome: engagement.Applied}
	_, err := importer.Enqueue(context.Background(), l, q, items, nil)
	if err == nil || !strings.Contains(err.Error(), "row 4: event "+items[2].Event.ID+" was applied before with other content") || !strings.HasSuffix(err.Error(), "nothing was queued") {
		t.Errorf("import = %v, want row 4 refused, nothing queued", err)
	}
	if n := queueLen(t, q); n != 0 || len(l.marks) != 0 {
		t.Errorf("%d messages queued, marks %v; want nothing written", n, l.marks)
	}
}

// When the rows' times cannot be kept, nothing is queued.
func TestImportQueuesNothingWhenTheMarksFail(t *testing.T) {
	l, q := newFakeLedger(), embeddedQueue(t)
	l.failMark = errors.New("disk full")
	_, err := importAt(t, now, l, q, threeRows)
	if err == nil || err.Error() != "import: row 2: keep its time: disk full; nothing was queued (import the list again)" {
		t.Errorf("import = %v", err)
	}
	if n := queueLen(t, q); n != 0 {
		t.Errorf("%d messages queued, want none", n)
	}
}

// A queue failing halfway leaves some events queued; the error says how
// many and to import again, and importing again queues the rest, each
// event once.
func TestARerunCompletesAnInterruptedImport(t *testing.T) {
	l, q := newFakeLedger(), embeddedQueue(t)
	calls := 0
	flaky := queueFunc(func(ctx context.Context, m engagement.Message) error {
		if calls++; calls == 2 {
			return fault.Errorf(fault.Transient, "embedded queue: enqueue %s: database is locked", m.ID)
		}
		return q.Enqueue(ctx, m)
	})
	sum, err := importAt(t, now, l, flaky, threeRows)
	want := "import: row 3: embedded queue: enqueue stint/import "
	if err == nil || !strings.HasPrefix(err.Error(), want) ||
		!strings.HasSuffix(err.Error(), ": database is locked; 1 of 3 events were queued before it: import the same list again to queue the rest (an event queued or applied already is recognised, not queued twice)") {
		t.Fatalf("interrupted import = %v", err)
	}
	if sum.Queued != 1 {
		t.Errorf("summary %+v, want 1 queued", sum)
	}
	sum, err = importAt(t, now.Add(time.Hour), l, q, threeRows)
	if err != nil || sum != (importer.Summary{Rows: 3, Queued: 2, AlreadyQueued: 1}) {
		t.Errorf("re-run = %+v, %v; want the 2 others queued, 1 already queued", sum, err)
	}
	if n := queueLen(t, q); n != 3 {
		t.Errorf("the queue holds %d messages, want 3", n)
	}
}

// On the embedded queue the list goes in one transaction: an event the
// queue cannot take (its id taken before with other content) leaves none
// of the list queued, not the rows before it.
func TestTheEmbeddedQueueTakesAllOrNone(t *testing.T) {
	l, q := newFakeLedger(), embeddedQueue(t)
	items, problems := build(t, threeRows, options())
	if len(problems) > 0 {
		t.Fatal(lines(problems))
	}
	taken := items[2].Message
	taken.Digest, taken.Body = "other", []byte(`{}`)
	if _, err := q.Put(context.Background(), taken); err != nil {
		t.Fatal(err)
	}
	_, err := importer.Enqueue(context.Background(), l, q, items, nil)
	if !fault.Is(err, fault.Conflict) || !strings.HasSuffix(err.Error(), "; none of the list's 3 events were queued (import the list again)") {
		t.Errorf("import = %v, want a conflict naming that nothing was queued", err)
	}
	if n := queueLen(t, q); n != 1 {
		t.Errorf("the queue holds %d messages, want only the one taken before", n)
	}
}
