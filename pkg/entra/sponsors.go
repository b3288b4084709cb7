package entra

import (
	"context"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Sponsor is one of a guest's sponsors in Entra: a user or a group
// responsible for the guest's access
// (https://learn.microsoft.com/graph/api/user-list-sponsors).
type Sponsor struct {
	// ID is the sponsor's object id.
	ID string
	// Group is true for a group; false for a user.
	Group       bool
	DisplayName string
	// Mail is a user's mail or, when it has none, userPrincipalName; empty
	// for a group.
	Mail string
}

// maxInvitedSponsors is how many sponsors an invitation may name.
const maxInvitedSponsors = 5

// Sponsors reads a user's sponsors, in Entra's order. It needs only
// User.Read.All, a core permission. A user without sponsors has none
// (nil, no error).
func (c *Client) Sponsors(ctx context.Context, userID string) ([]Sponsor, error) {
	builder := c.graph.Users().ByUserId(userID).Sponsors()
	var out []Sponsor
	for page := 1; ; page++ {
		cctx, last := call(ctx)
		resp, err := builder.Get(cctx, nil)
		if err != nil {
			return nil, classify(err, last, fmt.Sprintf("read the sponsors of %s (page %d)", userID, page), permReadUsers)
		}
		for _, o := range resp.GetValue() {
			s := Sponsor{ID: deref(o.GetId())}
			switch v := o.(type) {
			case models.Userable:
				s.DisplayName, s.Mail = deref(v.GetDisplayName()), deref(v.GetMail())
				if s.Mail == "" {
					s.Mail = deref(v.GetUserPrincipalName())
				}
			case models.Groupable:
				s.Group, s.DisplayName = true, deref(v.GetDisplayName())
			}
			out = append(out, s)
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		builder = builder.WithUrl(next)
	}
}

// invitedSponsors are the invitation's invitedUserSponsors: directory
// objects named by id. Graph takes at most five.
func invitedSponsors(ids []string) ([]models.DirectoryObjectable, error) {
	if len(ids) > maxInvitedSponsors {
		return nil, fmt.Errorf("%d sponsor ids, but an invitation can name at most %d", len(ids), maxInvitedSponsors)
	}
	out := make([]models.DirectoryObjectable, len(ids))
	for i, id := range ids {
		o := models.NewDirectoryObject()
		o.SetId(&id)
		out[i] = o
	}
	return out, nil
}
