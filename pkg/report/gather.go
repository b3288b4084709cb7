package report

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/sweep"
)

// Ledger is the part of engagement.Ledger the report reads.
type Ledger interface {
	Contractors(ctx context.Context) iter.Seq2[engagement.Contractor, error]
	ContractorEngagements(ctx context.Context, key string) ([]engagement.Engagement, error)
	Marks(ctx context.Context, prefix string) (map[string]string, error)
}

// Sources are where Gather reads the Input from.
type Sources struct {
	Ledger Ledger
	// Directory reads Entra; nil leaves it unread (the report says so).
	Directory Directory
	// Coverage reads which access keys' groups an enabled Conditional
	// Access policy requiring MFA targets; nil leaves it unread.
	Coverage func(ctx context.Context) (map[string]bool, error)
	// SignedInAfterEnd reads the sign-ins after the end the sweeps
	// recorded; nil when none are recorded.
	SignedInAfterEnd func(ctx context.Context) ([]SignInAfterEnd, error)
	Now              time.Time
	DormantAfter     time.Duration
	EndingWithin     time.Duration
}

// ghostMark prefixes the reconcile's first sightings of ghosts:
// ghost/<group id>/<user id>, valued with an RFC 3339 time (pkg/sweep).
const ghostMark = "ghost/"

// Gather reads the ledger, then Entra and the coverage. The ledger is
// required; what Entra or the coverage cannot give is noted in
// Input.Notes and left unknown, so that a report still comes out.
func Gather(ctx context.Context, s Sources) (Input, error) {
	in := Input{Now: s.Now, DormantAfter: s.DormantAfter, EndingWithin: s.EndingWithin, Findings: Findings{Ghosts: map[string]time.Time{}}}
	var ids []string
	for c, err := range s.Ledger.Contractors(ctx) {
		if err != nil {
			return Input{}, fmt.Errorf("report: read the contractors: %w", err)
		}
		engs, err := s.Ledger.ContractorEngagements(ctx, c.Key)
		if err != nil {
			return Input{}, fmt.Errorf("report: read the engagements of %s: %w", c.Key, err)
		}
		in.Contractors, in.Engagements = append(in.Contractors, c), append(in.Engagements, engs...)
		if c.UserID != "" {
			ids = append(ids, c.UserID)
		}
	}
	marks, err := s.Ledger.Marks(ctx, ghostMark)
	if err != nil {
		return Input{}, fmt.Errorf("report: read the ghosts the reconcile recorded: %w", err)
	}
	for k, v := range marks {
		uid := k[strings.LastIndex(k, "/")+1:]
		at, _ := time.Parse(time.RFC3339, v)
		if prev, ok := in.Findings.Ghosts[uid]; !ok || at.Before(prev) {
			in.Findings.Ghosts[uid] = at
		}
	}
	read := s.SignedInAfterEnd
	if read == nil {
		read = func(ctx context.Context) ([]SignInAfterEnd, error) { return afterEnd(ctx, s.Ledger, in.Contractors) }
	}
	if in.Findings.SignedInAfterEnd, err = read(ctx); err != nil {
		return Input{}, fmt.Errorf("report: read the sign-ins after the end: %w", err)
	}
	if s.Directory == nil {
		in.Notes = append(in.Notes, "Entra was not read: groups, account and invitation states are unknown.")
	} else if in.Accounts, err = s.Directory.Accounts(ctx, ids); err != nil {
		in.Notes = append(in.Notes, "Entra could not be read ("+err.Error()+"): groups, account and invitation states are unknown.")
	}
	if err := signIns(ctx, s.Ledger, in.Accounts); err != nil {
		return Input{}, err
	}
	if s.Coverage == nil {
		in.Notes = append(in.Notes, "Conditional Access was not read: not-covered is not judged.")
	} else if in.Covered, err = s.Coverage(ctx); err != nil {
		in.Notes = append(in.Notes, "Conditional Access could not be read ("+err.Error()+"): not-covered is not judged.")
	}
	return in, nil
}

// signIns fills the accounts' last sign-ins from what the reconcile read
// (sweep.SignInPrefix marks); an account it has not read stays unknown.
// The report reads no sign-in itself: Graph throttles those reads hard.
func signIns(ctx context.Context, l Ledger, accounts map[string]Account) error {
	if accounts == nil {
		return nil
	}
	marks, err := l.Marks(ctx, sweep.SignInPrefix)
	if err != nil {
		return fmt.Errorf("report: read the sign-in activity the reconcile recorded: %w", err)
	}
	for k, v := range marks {
		id := strings.TrimPrefix(k, sweep.SignInPrefix)
		a, ok := accounts[id]
		var m sweep.SignInMark
		if !ok || json.Unmarshal([]byte(v), &m) != nil {
			continue
		}
		a.SignIns = &SignIns{LastInteractive: m.LastInteractive, LastNonInteractive: m.LastNonInteractive, LastSuccessful: m.LastSuccessful}
		accounts[id] = a
	}
	return nil
}

// afterEnd reads the successful sign-ins after an engagement's end that
// the reconcile recorded (sweep.AfterEndPrefix marks: user id and time).
func afterEnd(ctx context.Context, l Ledger, contractors []engagement.Contractor) ([]SignInAfterEnd, error) {
	marks, err := l.Marks(ctx, sweep.AfterEndPrefix)
	if err != nil {
		return nil, err
	}
	byUser := map[string]string{}
	for _, c := range contractors {
		if c.UserID != "" {
			byUser[c.UserID] = c.Key
		}
	}
	var out []SignInAfterEnd
	for k := range marks {
		uid, at, ok := strings.Cut(strings.TrimPrefix(k, sweep.AfterEndPrefix), "/")
		t, err := time.Parse(time.RFC3339Nano, at)
		if !ok || err != nil || byUser[uid] == "" {
			continue
		}
		out = append(out, SignInAfterEnd{Contractor: byUser[uid], At: t})
	}
	slices.SortFunc(out, func(a, b SignInAfterEnd) int { return a.At.Compare(b.At) })
	return out, nil
}
