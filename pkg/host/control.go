package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/sweep"
)

// The control channel lets the operator's commands reach a running stint
// serve: a sweep must run inside the process that owns the data directory
// (its sandbox tenant would otherwise be saved over by the running one).
// It is a listener of its own on loopback, never the webhook's address,
// and every request carries a token that only the owner of the data
// directory can read: <data>/control.json, mode 0600, written when serve
// starts and removed when it stops.
const controlFile = "control.json"

type controlInfo struct {
	PID   int    `json:"pid"`
	URL   string `json:"url"`
	Token string `json:"token"`
}

// serveControl starts the control channel; stop ends it.
func (h *Host) serveControl() (stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("stint: control channel: %w", err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		l.Close()
		return nil, err
	}
	info := controlInfo{PID: os.Getpid(), URL: "http://" + l.Addr().String(), Token: hex.EncodeToString(key)}
	path := filepath.Join(h.o.Data, controlFile)
	b, _ := json.Marshal(info)
	if err := writePrivate(path, b); err != nil {
		l.Close()
		return nil, fmt.Errorf("stint: control channel: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sweep", h.controlSweep)
	mux.HandleFunc("GET /accounts", h.controlAccounts)
	mux.HandleFunc("GET /check", h.controlCheck)
	mux.HandleFunc("POST /policy", h.controlPolicy)
	if h.Sandbox != nil { // a real tenant is read directly, with the operator's own credentials
		mux.HandleFunc("GET /user", h.controlUser)
		mux.HandleFunc("GET /members", h.controlMembers)
	}
	srv := &http.Server{Handler: authorized(info.Token, mux), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	return func() {
		srv.Close()
		os.Remove(path)
	}, nil
}

// authorized lets through requests that carry the token, compared in
// constant time.
func authorized(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "stint control: not authorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Host) controlSweep(w http.ResponseWriter, r *http.Request) {
	var in sweep.Input
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
		http.Error(w, "stint control: want {\"mode\":\"tick\"|\"reconcile\",\"dryRun\":bool}", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Minute)
	defer cancel()
	sum, err := h.runSweep(ctx, in)
	answer := struct {
		Summary sweep.Summary `json:"summary"`
		Error   string        `json:"error,omitempty"`
	}{Summary: sum}
	if err != nil {
		answer.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

func (h *Host) controlAccounts(w http.ResponseWriter, r *http.Request) {
	accounts, err := h.Accounts(r.Context())
	answer := struct {
		Accounts map[string]Account `json:"accounts"`
		Error    string             `json:"error,omitempty"`
	}{Accounts: accounts}
	if err != nil {
		answer.Error = err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// Sweep runs a sweep in the stint serve that owns the data directory.
func Sweep(ctx context.Context, data string, in sweep.Input) (sweep.Summary, error) {
	var answer struct {
		Summary sweep.Summary `json:"summary"`
		Error   string        `json:"error"`
	}
	if err := control(ctx, data, http.MethodPost, "/sweep", in, &answer); err != nil {
		return sweep.Summary{}, err
	}
	if answer.Error != "" {
		return answer.Summary, fmt.Errorf("%s", answer.Error)
	}
	return answer.Summary, nil
}

// RemoteAccounts reads Entra's accounts through the stint serve that owns
// the data directory (see Host.Accounts).
func RemoteAccounts(ctx context.Context, data string) (map[string]Account, error) {
	var answer struct {
		Accounts map[string]Account `json:"accounts"`
		Error    string             `json:"error"`
	}
	if err := control(ctx, data, http.MethodGet, "/accounts", nil, &answer); err != nil {
		return nil, err
	}
	if answer.Error != "" {
		return nil, fmt.Errorf("%s", answer.Error)
	}
	return answer.Accounts, nil
}

// The lookups a dry run of stint import makes read the sandbox tenant the
// running serve owns: a user by email, and the members of an allow-listed
// group (no other group: stint reads only the groups it may touch). A
// serve on a real tenant does not offer them: the dry run reads Entra
// itself, and serve's credentials answer nobody's lookups but its own.

// userAnswer is one lookup: the user, or why there is none, with its
// fault code (NotFound and Conflict are answers, not failures).
type userAnswer struct {
	User  engagement.User `json:"user"`
	Code  fault.Code      `json:"code,omitempty"`
	Error string          `json:"error,omitempty"`
}

func (h *Host) controlUser(w http.ResponseWriter, r *http.Request) {
	u, err := h.directory.FindUser(r.Context(), r.URL.Query().Get("email"))
	answer := userAnswer{User: u}
	if err != nil {
		answer.Code, answer.Error = fault.CodeOf(err), err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

type membersAnswer struct {
	Members []engagement.User `json:"members"`
	Code    fault.Code        `json:"code,omitempty"`
	Error   string            `json:"error,omitempty"`
}

func (h *Host) controlMembers(w http.ResponseWriter, r *http.Request) {
	group := r.URL.Query().Get("group")
	if !slices.Contains(slices.Collect(maps.Values(h.Groups)), group) {
		http.Error(w, fmt.Sprintf("stint control: group %q is not in the allow-list (STINT_GROUPS)", group), http.StatusForbidden)
		return
	}
	answer := membersAnswer{Members: []engagement.User{}}
	for u, err := range h.directory.Members(r.Context(), group) {
		if err != nil {
			answer.Code, answer.Error = fault.CodeOf(err), err.Error()
			break
		}
		answer.Members = append(answer.Members, u)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(answer)
}

// RemoteDirectory reads the tenant of the stint serve that owns the data
// directory Data, through its control channel: what a dry run of stint
// import reads while serve holds the sandbox tenant.
type RemoteDirectory struct{ Data string }

// FindUser looks a user up by email, as engagement.Directory does:
// NotFound when nobody has the address, Conflict when several do.
func (d RemoteDirectory) FindUser(ctx context.Context, email string) (engagement.User, error) {
	var answer userAnswer
	if err := control(ctx, d.Data, http.MethodGet, "/user?"+url.Values{"email": {email}}.Encode(), nil, &answer); err != nil {
		return engagement.User{}, err
	}
	if answer.Error != "" {
		return engagement.User{}, fault.Errorf(answer.Code, "%s", answer.Error)
	}
	return answer.User, nil
}

// Members lists an allow-listed group's members.
func (d RemoteDirectory) Members(ctx context.Context, groupID string) iter.Seq2[engagement.User, error] {
	return func(yield func(engagement.User, error) bool) {
		var answer membersAnswer
		err := control(ctx, d.Data, http.MethodGet, "/members?"+url.Values{"group": {groupID}}.Encode(), nil, &answer)
		if err == nil && answer.Error != "" {
			err = fault.Errorf(answer.Code, "%s", answer.Error)
		}
		if err != nil {
			yield(engagement.User{}, err)
			return
		}
		for _, u := range answer.Members {
			if !yield(u, nil) {
				return
			}
		}
	}
}

// controlClient keeps its connections to the control channel for reuse:
// a dry run of stint import makes a lookup a row, several at once.
var controlClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second}}

// control calls the control channel of the stint serve that owns data.
func control(ctx context.Context, data, method, path string, in, out any) error {
	var info controlInfo
	b, err := os.ReadFile(filepath.Join(data, controlFile))
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	if err != nil {
		return fmt.Errorf("the stint serve that holds %s has no control channel (%v): stop it and try again", data, err)
	}
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, info.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := controlClient.Do(req)
	if err != nil {
		return fmt.Errorf("reach the stint serve that holds %s (pid %d): %w", data, info.PID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("the stint serve that holds %s answered %s: %s", data, resp.Status, bytes.TrimSpace(msg))
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("read the answer of the stint serve that holds %s: %w", data, err)
	}
	return nil
}

// writePrivate writes a file only its owner can read, whatever the umask.
func writePrivate(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
