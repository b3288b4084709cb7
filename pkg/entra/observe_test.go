package entra_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/sandbox"
)

// Operations name a request by its method and path template: no id, no
// email address, no query — a bounded set of names, safe as a metric label.
func TestOperationNamesNoIDs(t *testing.T) {
	tests := []struct {
		name, method, path, want string
	}{
		{"a search, query dropped", "GET", "/v1.0/users?$filter=mail eq 'ana@partner.example'", "GET /users"},
		{"a member removal", "DELETE", "/v1.0/groups/6f1c2f3e-0000-4000-8000-000000000001/members/9a8b7c6d-0000-4000-8000-000000000002/$ref", "DELETE /groups/{id}/members/{id}/$ref"},
		{"a user addressed by email", "PATCH", "/v1.0/users/ana@partner.example", "PATCH /users/{id}"},
		{"a guest's principal name", "GET", "/v1.0/users/ana_partner.example#EXT#@contoso.onmicrosoft.com", "GET /users/{id}"},
		{"a $batch item, relative", "POST", "/groups/6f1c2f3e/members/$ref", "POST /groups/{id}/members/$ref"},
		{"a typed member listing", "get", "/v1.0/groups/6f1c2f3e/members/microsoft.graph.user", "GET /groups/{id}/members/microsoft.graph.user"},
		{"a policy, any case", "PATCH", "/v1.0/Identity/ConditionalAccess/Policies/1234", "PATCH /identity/conditionalAccess/policies/{id}"},
		{"an unknown word is an id", "GET", "/v1.0/somethingNew/x", "GET /{id}/{id}"},
		{"the root", "GET", "/v1.0", "GET /"},
		{"the envelope", "POST", "/v1.0/$batch", "POST /$batch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := entra.Operation(tt.method, tt.path); got != tt.want {
				t.Errorf("Operation(%q, %q) = %q, want %q", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

// observed collects what Config.Observe is told.
type observed struct {
	mu  sync.Mutex
	all []entra.Observed
}

func (o *observed) add(r entra.Observed) { o.mu.Lock(); o.all = append(o.all, r); o.mu.Unlock() }

// lines lists what was observed since n as "operation status" (with
// "item" for a $batch item).
func (o *observed) lines(n int) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, r := range o.all[n:] {
		l := fmt.Sprintf("%s %d", r.Operation, r.Status)
		if r.InBatch {
			l = "item " + l
		}
		out = append(out, l)
	}
	return out
}

func (o *observed) len() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.all) }

// Every attempt on the wire is observed, the 429 the SDK retries too, and
// so is every item of a $batch, with its own status.
func TestEveryAttemptIsObserved(t *testing.T) {
	cfg, cred, err := fromEnv()
	if err != nil {
		t.Fatal(err)
	}
	obs := &observed{}
	c, err := entra.New(entra.Config{Endpoint: cfg.GraphEndpoint, Credential: cred, Observe: obs.add})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Group(ctx, warmGroup(t).ID); err != nil {
		t.Fatal(err)
	}
	if got, want := obs.lines(0), []string{"GET /groups/{id} 200"}; !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q (a token request is not a Graph request)", got, want)
	}

	guest(t, "obs@partner.example")
	tenant.Inject(sandbox.Fault{Path: "/users", Status: 429, RetryAfter: "0.01", Times: 1})
	defer tenant.ClearFaults()
	n := obs.len()
	if _, err := c.FindUser(ctx, "obs@partner.example"); err != nil {
		t.Fatal(err)
	}
	if got, want := obs.lines(n), []string{"GET /users 429", "GET /users 200"}; !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}

	g, u := group(t, "observed"), guest(t, "obs2@partner.example")
	if err := tenant.AddMember(g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	tenant.Inject(sandbox.Fault{Method: "DELETE", Path: "/groups/" + g.ID + "/members", Status: 429, RetryAfter: "0.01", Times: 1, InBatch: true})
	n = obs.len()
	if err := c.RemoveMembers(ctx, g.ID, []string{u.ID}); err != nil {
		t.Fatal(err)
	}
	want := []string{"POST /$batch 200", "item DELETE /groups/{id}/members/{id}/$ref 429", "POST /$batch 200", "item DELETE /groups/{id}/members/{id}/$ref 204"}
	if got := obs.lines(n); !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}
