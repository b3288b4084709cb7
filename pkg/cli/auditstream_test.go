package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/ledger/sqlite"
)

// auditSchema compiles the published schema of the stream, formats
// asserted.
func auditSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	f, err := os.Open("../../events/schema/audit-entry.v1.json")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("audit.json", doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile("audit.json")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSuffix(l.b.String(), "\n"), "\n")
}

func appendN(t *testing.T, l engagement.Ledger, prefix string, n int) {
	t.Helper()
	var entries []engagement.AuditEntry
	for i := range n {
		entries = append(entries, engagement.AuditEntry{At: time.Now(), Contractor: fmt.Sprintf("%s%04d@vendor.example", prefix, i),
			Actor: "stint:tick", Action: engagement.GroupAdded, Detail: "added"})
	}
	if err := l.Append(context.Background(), entries...); err != nil {
		t.Fatal(err)
	}
}

// --follow writes the newest backlog entries, then every entry appended
// while it runs, once each and in order — a burst larger than one poll's
// window included — in the documented shape; nothing from before the
// backlog.
func TestFollowAuditWritesEveryNewEntryOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "stint.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	appendN(t, l, "old", 5)
	out := &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- followAudit(ctx, l, out, 20*time.Millisecond, 2) }()
	for len(out.lines()) < 2 { // the backlog: it has read the trail
		time.Sleep(5 * time.Millisecond)
	}
	appendN(t, l, "new", 3)
	appendN(t, l, "burst", followWindow+500)
	want := 2 + 3 + followWindow + 500
	deadline := time.Now().Add(20 * time.Second)
	for len(out.lines()) < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // a few more polls: nothing twice
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := out.lines()
	if len(lines) != want {
		t.Fatalf("%d lines, want %d", len(lines), want)
	}
	schema := auditSchema(t)
	var got []string
	for _, line := range lines {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(line))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Fatalf("line %s does not follow events/schema/audit-entry.v1.json: %v", line, err)
		}
		var e siemEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if e.ID == "" || e.Time == "" || e.Actor != "stint:tick" || e.Action != string(engagement.GroupAdded) || e.Cause != (cause{"schedule", "stint:tick"}) {
			t.Fatalf("entry %+v lacks a field of the schema", e)
		}
		got = append(got, e.Target.Contractor)
	}
	if got[0] != "old0003@vendor.example" || got[1] != "old0004@vendor.example" || got[2] != "new0000@vendor.example" ||
		got[len(got)-1] != fmt.Sprintf("burst%04d@vendor.example", followWindow+499) {
		t.Errorf("first and last targets %v … %s, want the 2 newest old ones, then the new ones in order", got[:3], got[len(got)-1])
	}
	for i := range followWindow + 500 {
		if got[5+i] != fmt.Sprintf("burst%04d@vendor.example", i) {
			t.Fatalf("line %d is %s, want burst%04d: out of order or missing", 5+i, got[5+i], i)
		}
	}
}
