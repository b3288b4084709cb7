package report

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/fault"
)

// Reader is the part of engagement.Directory the report reads.
type Reader interface {
	Members(ctx context.Context, groupID string) iter.Seq2[engagement.User, error]
	Account(ctx context.Context, userID string, groupIDs []string) (engagement.User, []string, error)
}

// Entra is the Directory over what stint's Graph adapter reads today: the
// members of every allow-listed group (a request per 999 members), then the
// account of each contractor in none of them (a request each, where the
// ended contractors are). Sign-ins and sponsors are not read yet: nil.
type Entra struct {
	Reader Reader
	// Groups is the allow-list, access key to group id (STINT_GROUPS).
	Groups map[string]string
	// Sponsors, when set, reads the sponsors Entra records for a
	// contractor's account (their mail, or name): one request per
	// contractor. Nil leaves them unread.
	Sponsors func(ctx context.Context, userID string) ([]string, error)
}

var _ Directory = Entra{}

// Accounts reads the accounts (see Entra).
func (e Entra) Accounts(ctx context.Context, userIDs []string) (map[string]Account, error) {
	out := map[string]Account{}
	for _, key := range slices.Sorted(maps.Keys(e.Groups)) {
		for u, err := range e.Reader.Members(ctx, e.Groups[key]) {
			if err != nil {
				return nil, fmt.Errorf("report: read the members of group %s (%s): %w", key, e.Groups[key], err)
			}
			a, ok := out[u.ID]
			if !ok {
				a = fromUser(u)
			}
			a.Groups = append(a.Groups, key)
			out[u.ID] = a
		}
	}
	for _, id := range userIDs {
		if _, ok := out[id]; ok || id == "" {
			continue
		}
		u, _, err := e.Reader.Account(ctx, id, nil)
		switch {
		case fault.Is(err, fault.NotFound):
			out[id] = Account{ID: id, Gone: true, Groups: []string{}}
		case err != nil:
			return nil, fmt.Errorf("report: read the account %s: %w", id, err)
		default:
			out[id] = fromUser(u)
		}
	}
	if e.Sponsors == nil {
		return out, nil
	}
	for _, id := range userIDs {
		a, ok := out[id]
		if !ok || a.Gone {
			continue
		}
		sponsors, err := e.Sponsors(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("report: read the sponsors of %s: %w", id, err)
		}
		a.Sponsors = nonNil(sponsors)
		out[id] = a
	}
	return out, nil
}

// fromUser is a directory user as an Account in no group yet.
func fromUser(u engagement.User) Account {
	return Account{ID: u.ID, Mail: u.Mail, DisplayName: u.DisplayName, Guest: u.Guest, Enabled: u.Enabled,
		ExternalState: u.ExternalState, Created: u.CreatedAt, Groups: []string{}}
}
