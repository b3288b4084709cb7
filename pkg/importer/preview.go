package importer

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Directory is what a dry run reads from Entra.
type Directory interface {
	FindUser(ctx context.Context, email string) (engagement.User, error)
	Members(ctx context.Context, groupID string) iter.Seq2[engagement.User, error]
}

// Records is what a dry run reads from the ledger: which accounts stint
// knows, and which engagements are active.
type Records interface {
	Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error]
	Active(ctx context.Context) iter.Seq2[engagement.Engagement, error]
}

// Preview is what importing the list would change in Entra.
type Preview struct {
	// Invitations are the rows whose email no account has: the worker
	// invites a guest, then adds it to the groups of Access.
	Invitations []Change `json:"invitations"`
	// Additions are the rows whose account exists and lacks some of the
	// row's groups (Access lists those).
	Additions []Change `json:"additions"`
	// Unresolved are the rows whose email several accounts have: stint
	// never guesses, and the worker will fail them until an administrator
	// settles it.
	Unresolved []Change `json:"unresolved"`
	// Removals are the memberships the import itself takes away: a row
	// changes an engagement stint applied (the same engagement id, a new
	// event), and the account's engagements no longer grant the group; the
	// worker removes it as it applies the row.
	Removals []Account `json:"removals"`
	// Unjustified are the members of the allow-listed groups that neither
	// an active row of the list nor an active engagement in the ledger
	// justifies: what the reconcile would act on after the import.
	Unjustified []Account `json:"unjustified"`
}

// Change is what importing one row would do to its account.
type Change struct {
	Row    int    `json:"row"`
	Email  string `json:"email"`
	UserID string `json:"userId,omitempty"`
	// Access are the keys of the groups the account would join.
	Access []string `json:"access"`
	// At is when it would join them: the engagement's start, when in the
	// future; zero for at once.
	At     time.Time `json:"at,omitzero"`
	Reason string    `json:"reason,omitempty"`
}

// Account is a member of an allow-listed group that nothing justifies, or
// that the import removes.
type Account struct {
	// Row is the row whose import removes the membership (Removals).
	Row    int    `json:"row,omitempty"`
	UserID string `json:"userId"`
	// Name is the account's mail, else its user principal name.
	Name string `json:"name"`
	// Access is the key of the group it is a member of.
	Access string `json:"access"`
	// Finding is what the reconcile makes of it (engagement.ClassifyMember).
	Finding engagement.Finding `json:"finding"`
	Reason  string             `json:"reason"`
}

// Planner previews an import against Entra and the ledger, writing
// nothing.
type Planner struct {
	Directory Directory
	Ledger    Records
	// Groups is the allow-list: access key to group object id.
	Groups map[string]string
	// DefaultAccess is what a row with no access gets (STINT_DEFAULT_ACCESS).
	DefaultAccess []string
	Now           time.Time
	// Lookups bounds the users looked up at once (default 8).
	Lookups int
	// Step, when set, is called once per row looked up.
	Step func()
}

// Preview reads the allow-listed groups' members, the ledger's accounts
// and active engagements, and each row's account, and says what the
// import would change.
func (p *Planner) Preview(ctx context.Context, items []Item) (Preview, error) {
	members, users, err := p.members(ctx)
	if err != nil {
		return Preview{}, err
	}
	found, err := p.lookUp(ctx, items)
	if err != nil {
		return Preview{}, err
	}
	out := Preview{Invitations: []Change{}, Additions: []Change{}, Unresolved: []Change{}, Removals: []Account{}, Unjustified: []Account{}}
	listed := map[string][]string{} // user id -> access keys an active row grants
	for i, it := range items {
		c := Change{Row: it.Row.Number, Email: it.Event.Data.Contractor.Email, Access: p.access(it)}
		if start := it.Event.Start(); start.After(p.Now) {
			c.At = start
		}
		switch f := found[i]; {
		case fault.Is(f.err, fault.NotFound):
			out.Invitations = append(out.Invitations, c)
		case f.err != nil:
			c.Reason = f.err.Error()
			out.Unresolved = append(out.Unresolved, c)
		default:
			c.UserID = f.user.ID
			if it.Active(p.Now) {
				listed[f.user.ID] = append(listed[f.user.ID], c.Access...)
			}
			c.Access = slices.DeleteFunc(c.Access, func(key string) bool { return members[key][f.user.ID] })
			if len(c.Access) > 0 {
				out.Additions = append(out.Additions, c)
			}
		}
	}
	err = p.judge(ctx, &out, items, members, users, listed)
	return out, err
}

// access is the keys a row grants: its own, else the default.
func (p *Planner) access(it Item) []string {
	if len(it.Event.Data.Access) > 0 {
		return slices.Clone(it.Event.Data.Access)
	}
	return slices.Sorted(slices.Values(p.DefaultAccess))
}

// members reads every allow-listed group: the member ids by access key,
// and the accounts by id.
func (p *Planner) members(ctx context.Context) (map[string]map[string]bool, map[string]engagement.User, error) {
	members, users := map[string]map[string]bool{}, map[string]engagement.User{}
	for key, gid := range p.Groups {
		members[key] = map[string]bool{}
		for u, err := range p.Directory.Members(ctx, gid) {
			if err != nil {
				return nil, nil, fmt.Errorf("import: list the members of %s: %w", key, err)
			}
			members[key][u.ID], users[u.ID] = true, u
		}
	}
	return members, users, nil
}

// lookup is one row's account: the user, or why there is none (NotFound,
// or Conflict when several accounts have the address).
type lookup struct {
	user engagement.User
	err  error
}

// lookUp finds every row's account, Lookups at a time. An error other
// than "nobody" or "several" (Graph refusing, an outage) stops the
// preview: its answer would be wrong.
func (p *Planner) lookUp(ctx context.Context, items []Item) ([]lookup, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	found := make([]lookup, len(items))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range cmp.Or(p.Lookups, 8) {
		wg.Go(func() {
			for i := range next {
				email := items[i].Event.Data.Contractor.Email
				u, err := p.Directory.FindUser(ctx, email)
				if err != nil && !fault.Is(err, fault.NotFound) && !fault.Is(err, fault.Conflict) {
					cancel(fmt.Errorf("import: row %d: look up %s: %w", items[i].Row.Number, email, err))
				}
				found[i] = lookup{u, err}
				if p.Step != nil {
					mu.Lock()
					p.Step()
					mu.Unlock()
				}
			}
		})
	}
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return found, nil
}

// judge judges every member of the allow-listed groups that no active
// row grants the group, the way the reconcile does, against the ledger as
// the import leaves it: a row imported for the first time replaces the
// engagement of its id (its event is the newest), so that engagement's
// access counts no more.
func (p *Planner) judge(ctx context.Context, out *Preview, items []Item, members map[string]map[string]bool, users map[string]engagement.User, listed map[string][]string) error {
	replaced := map[string]int{} // engagement id -> the row that replaces it
	for _, it := range items {
		if it.FirstImport {
			replaced[it.Event.Data.EngagementID] = it.Row.Number
		}
	}
	byUser := map[string]engagement.Contractor{}
	for c, err := range p.Ledger.Contractors(ctx) {
		if err != nil {
			return fmt.Errorf("import: read the contractors: %w", err)
		}
		if c.UserID != "" {
			byUser[c.UserID] = c
		}
	}
	want := map[string][]string{}
	changedBy := map[string]int{} // contractor key -> a row that replaces one of their engagements
	for e, err := range p.Ledger.Active(ctx) {
		if err != nil {
			return fmt.Errorf("import: read the active engagements: %w", err)
		}
		if row, ok := replaced[e.ID]; ok {
			changedBy[e.Contractor] = row
			continue
		}
		if e.StatusAt(p.Now) == engagement.Active {
			want[e.Contractor] = append(want[e.Contractor], e.Access...)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(members)) {
		for _, id := range slices.Sorted(maps.Keys(members[key])) {
			if slices.Contains(listed[id], key) {
				continue
			}
			c, known := byUser[id]
			u := users[id]
			f := engagement.ClassifyMember(engagement.Member{Contractor: c, Known: known, Want: want[c.Key], Key: key, Enabled: u.Enabled})
			a := Account{UserID: id, Name: cmp.Or(u.Mail, u.UserPrincipalName, u.DisplayName), Access: key, Finding: f, Reason: reasons[f]}
			switch row := changedBy[c.Key]; {
			case f == engagement.Justified:
			case f == engagement.Lagging && known && row > 0:
				a.Row, a.Reason = row, "the row changes the engagement that granted it, and no engagement grants it any more: the worker removes it as it applies the row"
				out.Removals = append(out.Removals, a)
			default:
				out.Unjustified = append(out.Unjustified, a)
			}
		}
	}
	return nil
}

// reasons say what the reconcile does with each finding.
var reasons = map[engagement.Finding]string{
	engagement.Ghost:      "on no active row of the list for this group, and in no active engagement: the reconcile flags it, and removes it after STINT_GHOST_GRACE",
	engagement.Readmitted: "stint blocked this account when its engagements ended, and it is a member again: the reconcile removes it at once",
	engagement.Lagging:    "its engagement has ended; the tick removes it within a minute",
}

// Counts says the preview in one line.
func (pv Preview) Counts() string {
	parts := []string{plural(len(pv.Invitations), "invitation"), plural(len(pv.Additions), "addition") + " to groups"}
	if n := len(pv.Removals); n > 0 {
		parts = append(parts, plural(n, "removal")+" from groups")
	}
	parts = append(parts, plural(len(pv.Unjustified), "membership")+" nothing justifies")
	if n := len(pv.Unresolved); n > 0 {
		parts = append(parts, plural(n, "address")+" several accounts have")
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "ss") {
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
