package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// PersistTo saves the tenant to path (Save's JSON) after every Graph
// request that may have changed it, before that request is answered, so
// that a client which got an answer can count on the change surviving a
// crash of the process — as it can with Entra. The file is replaced
// atomically (write, then rename). Load it with Load to restart.
func (t *Tenant) PersistTo(path string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.persistPath = path
}

// Persist saves the tenant now to the PersistTo path (nothing without one).
// Graph requests save themselves; changes made directly, as an
// administrator in the portal (AddUser, AddMember, SetAccountEnabled, …),
// live in memory until the next save, or until Persist.
func (t *Tenant) Persist() error {
	t.mu.Lock()
	path := t.persistPath
	t.mu.Unlock()
	if path == "" {
		return nil
	}
	return t.saveFile(path)
}

// persisting reports whether r must be saved after it is served.
func (t *Tenant) persisting(r *http.Request) string {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return ""
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if !strings.EqualFold(first, "v1.0") {
		return ""
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.persistPath
}

// servePersisted serves a changing Graph request into a buffer, saves the
// tenant, then sends the answer.
func (t *Tenant) servePersisted(w http.ResponseWriter, r *http.Request, path string) {
	buf := &heldResponse{ResponseWriter: w, header: http.Header{}}
	t.serveGraph(buf, r)
	if buf.hijacked {
		return
	}
	if err := t.saveFile(path); err != nil {
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

// saveFile writes the tenant to path. Saves are serialized from snapshot to
// rename, so the file never goes back to an older state than one it held:
// two concurrent requests could otherwise rename their snapshots out of
// order, and a change already answered would vanish from the file.
func (t *Tenant) saveFile(path string) error {
	t.saveMu.Lock()
	defer t.saveMu.Unlock()
	var b bytes.Buffer
	if err := t.Save(&b); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sandbox-*.json")
	if err != nil {
		return fmt.Errorf("sandbox: save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("sandbox: save: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sandbox: save: %w", err)
	}
	return os.Rename(tmp.Name(), path)
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
