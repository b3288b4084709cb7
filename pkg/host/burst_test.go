package host_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/host"
	"github.com/stintdev/stint/pkg/sandbox"
)

// At stint serve's defaults a burst's group additions share Graph writes:
// 48 users the tenant holds start at once, Graph answering each request in
// 100 ms, and their additions go in PATCHes of several members — at most
// one membership write for three contractors, where the four workers that
// were the default spent one for every two or fewer.
func TestABurstSharesWritesAtServesDefaults(t *testing.T) {
	const n = 48
	h, handled := serve(t, host.Options{Data: t.TempDir(), TickEvery: -1, ReconcileEvery: -1})
	for i := range n {
		mail := fmt.Sprintf("existing%d@partner.example", i)
		h.Sandbox.AddUser(sandbox.User{DisplayName: mail, Mail: mail, UserType: "Guest", AccountEnabled: true, ExternalUserState: "Accepted"})
	}
	h.Sandbox.SetLatency(100 * time.Millisecond)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("burst-%d", i)
			if status := post(t, h, id, ending(id, fmt.Sprintf("existing%d@partner.example", i), time.Now().Add(time.Hour))); status != http.StatusAccepted {
				t.Errorf("post %s: %d, want 202", id, status)
			}
		})
	}
	wg.Wait()
	for got := range n {
		select {
		case <-handled:
		case <-time.After(time.Minute):
			t.Fatalf("%d of %d events handled after a minute", got, n)
		}
	}
	if members := len(h.Sandbox.Members(h.Groups["contractor-access"])); members != n {
		t.Fatalf("%d members in contractor-access, want %d", members, n)
	}
	_, writes := graphWrites(h.Sandbox)
	t.Logf("%d membership writes for %d contractors", writes, n)
	if writes > n/3 {
		t.Errorf("%d membership writes for %d contractors, want at most %d: additions are not shared", writes, n, n/3)
	}
}

// graphWrites counts the Graph writes the sandbox answered (a 429 aside):
// invitations, and membership writes (a PATCH of members, or a POST of one).
func graphWrites(ten *sandbox.Tenant) (invites, memberships int) {
	for _, r := range ten.GraphRequests() {
		switch {
		case r.Status == http.StatusTooManyRequests || r.Method == http.MethodGet:
		case r.Path == "/v1.0/invitations":
			invites++
		case strings.HasSuffix(r.Path, "/members/$ref") || r.Method == http.MethodPatch && strings.HasPrefix(r.Path, "/v1.0/groups/"):
			memberships++
		}
	}
	return invites, memberships
}
