package sandbox

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Persistence keeps a tenant in two files: the snapshot, at the path
// given to PersistTo, and the journal of changes since, beside it (see
// "Saved state" in the package doc, and changes.go for the records).

const (
	// A write folds the journal into a new snapshot once the journal is
	// more than compactFactor times the snapshot's size and minCompact.
	compactFactor = 2
	minCompact    = 256 << 10
	// journalMagic starts a journal's first line, followed by the SHA-256
	// of the snapshot it follows.
	journalMagic = "stint-sandbox-journal/1"
)

// store is where a persisted tenant is kept.
type store struct {
	path string
	// mu serialises flushes, so that records reach the journal in the
	// order their changes were made, and only one compaction runs.
	mu           sync.Mutex
	journal      *os.File // nil until the first flush writes a snapshot
	size         int64    // the journal's bytes
	snapshotSize int64
	minCompact   int64
}

// PersistTo keeps the tenant at path from now on: every Graph request
// that may have changed it is written down before it is answered, so that
// a client which got an answer can count on the change surviving a crash
// of the process — as it can with Entra. The first write saves the whole
// tenant; later ones append to the journal beside path (see "Saved
// state" in the package doc).
// Restart with LoadFile(path). Files are readable by their owner only.
func (t *Tenant) PersistTo(path string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.store = &store{path: path, minCompact: minCompact}
	t.dir.changes = &changeLog{full: true}
}

// Persist writes down the changes not yet written (nothing without
// PersistTo). Graph requests write their own; changes made directly, as an
// administrator in the portal (AddUser, AddMember, SetAccountEnabled, …),
// are written with the next Graph request that changes the tenant, or by
// Persist.
func (t *Tenant) Persist() error {
	t.mu.Lock()
	s := t.store
	t.mu.Unlock()
	if s == nil {
		return nil
	}
	return t.flush(s)
}

// LoadFile replaces the directory with the state PersistTo(path) keeps:
// the snapshot at path and the changes journaled since. A torn last
// record (a power cut in the middle of a write) is left out; any other
// damage is an error naming the record. Without a snapshot the error
// matches fs.ErrNotExist. On error the tenant is unchanged.
func (t *Tenant) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("sandbox: load: %w", err)
	}
	d, err := decodeSnapshot(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := replayJournal(&d, journalPath(path), sha256.Sum256(b)); err != nil {
		return err
	}
	t.replace(d)
	return nil
}

func journalPath(path string) string { return path + ".journal" }

// replayJournal applies the journal at path to d if it follows the
// snapshot whose SHA-256 is sum.
func replayJournal(d *directory, path string, sum [sha256.Size]byte) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sandbox: journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	header, err := r.ReadString('\n')
	magic, follows, _ := strings.Cut(strings.TrimSuffix(header, "\n"), " ")
	if err != nil || magic != journalMagic {
		return fmt.Errorf("sandbox: journal %s: not a journal (move it away to drop the changes it holds)", path)
	}
	if follows != hex.EncodeToString(sum[:]) {
		return nil // a compaction stopped between its steps: the snapshot holds it all
	}
	if err := replay(d, r, int64(len(header))); err != nil {
		return fmt.Errorf("sandbox: journal %s: %w", path, err)
	}
	return nil
}

// persisting returns the store when r must be written down before it is
// answered: a Graph request other than a read, on a persisted tenant.
func (t *Tenant) persisting(r *http.Request) *store {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return nil
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !strings.EqualFold(first, "v1.0") {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.store
}

// servePersisted serves a changing Graph request into a buffer, writes the
// changes down, then sends the answer.
func (t *Tenant) servePersisted(w http.ResponseWriter, r *http.Request, s *store) {
	buf := &heldResponse{ResponseWriter: w, header: http.Header{}}
	t.serveGraph(buf, r)
	if buf.hijacked {
		return
	}
	if err := t.flush(s); err != nil {
		// Answer as Graph does when its store fails: 503, full error body.
		id := buf.header.Get("request-id")
		body, _ := json.Marshal(map[string]any{"error": map[string]any{
			"code": "serviceNotAvailable", "message": "The sandbox could not save its state: " + err.Error(),
			"innerError": map[string]string{"date": t.now().UTC().Format("2006-01-02T15:04:05"), "request-id": id, "client-request-id": buf.header.Get("client-request-id")},
		}})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("request-id", id)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write(body)
		return
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	w.WriteHeader(buf.status)
	w.Write(buf.body.Bytes())
}

// flush writes down the changes since the last flush: a journal record,
// or the whole tenant when there is no journal yet, the journal has
// outgrown the snapshot, or the changes cannot be told as entries. A
// request whose changes a concurrent flush took finds them written when
// it gets s.mu. After a failure the next flush writes the whole tenant,
// so that nothing is appended after a record that may be incomplete.
func (t *Tenant) flush(s *store) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t.mu.Lock()
	c := t.dir.changes
	var err error
	if c.full || s.journal == nil || s.size > max(s.minCompact, compactFactor*s.snapshotSize) {
		snap := t.dir.snapshot()
		c.restart()
		t.mu.Unlock()
		err = s.compact(snap)
	} else {
		entries := c.take()
		t.mu.Unlock()
		err = s.append(entries)
	}
	if err != nil {
		t.mu.Lock()
		c.full = true
		t.mu.Unlock()
	}
	return err
}

func (s *store) append(entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	rec, err := appendRecord(nil, entries)
	if err != nil {
		return err
	}
	n, err := s.journal.Write(rec)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("sandbox: journal: %w", err)
	}
	return nil
}

// compact writes snap as the snapshot, then starts an empty journal
// after it.
func (s *store) compact(snap snapshotCopy) error {
	b, err := snap.encode()
	if err != nil {
		return err
	}
	if err := writeReplacing(s.path, b); err != nil {
		return err
	}
	sum := sha256.Sum256(b)
	header := journalMagic + " " + hex.EncodeToString(sum[:]) + "\n"
	f, err := os.CreateTemp(filepath.Dir(s.path), ".sandbox-*.journal")
	if err != nil {
		return fmt.Errorf("sandbox: save: %w", err)
	}
	if _, err := f.WriteString(header); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("sandbox: save: %w", err)
	}
	if err := os.Rename(f.Name(), journalPath(s.path)); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("sandbox: save: %w", err)
	}
	if s.journal != nil {
		s.journal.Close()
	}
	s.journal, s.size, s.snapshotSize = f, int64(len(header)), int64(len(b))
	return nil
}

// writeReplacing replaces the file at path with b (owner-only): written
// to a temporary file beside it, then renamed over it.
func writeReplacing(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sandbox-*.json")
	if err != nil {
		return fmt.Errorf("sandbox: save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("sandbox: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sandbox: save: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("sandbox: save: %w", err)
	}
	return nil
}

// heldResponse holds an answer until the tenant is saved; a dropped
// connection (Hijack) goes straight through.
type heldResponse struct {
	http.ResponseWriter
	header   http.Header
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (h *heldResponse) Header() http.Header         { return h.header }
func (h *heldResponse) WriteHeader(status int)      { h.status = status }
func (h *heldResponse) Write(b []byte) (int, error) { return h.body.Write(b) }

func (h *heldResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("sandbox: connection cannot be hijacked")
	}
	h.hijacked = true
	return hj.Hijack()
}
