package entra

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/stintdev/stint/pkg/fault"
	"github.com/stintdev/stint/pkg/requestlog"
)

// coalescer gathers one kind of membership change (adds, or removals) for
// the same group from concurrent callers into one request, as a database
// commits a group of transactions together:
//
//   - A caller whose group has no request of this kind in flight sends its
//     own at once: a lone event waits for nobody, and pays nothing.
//   - A caller arriving while one is in flight joins the group's next
//     request; that goes when the one in flight is done, or at once when it
//     holds max users. So the requests of a burst carry everyone who came
//     while the previous one was on the wire — or waiting for its turn at
//     Graph's write limit, which is when gathering pays most.
//   - Each caller blocks until its own user is done, and gets its own
//     answer: a settle moves on only once its change is in Entra, as
//     before, so one contractor's order and every retry's idempotency hold.
//
// A gathered request lives no longer than any of its callers' contexts:
// its deadline is the earliest of theirs, and it is cancelled as soon as
// one of theirs is. A settle's context ends when its claim on the
// contractor does, and no change of its may reach Entra after that (a
// settle that took over may have planned otherwise); a caller whose
// context ends before the request is sent is taken out of it.
type coalescer struct {
	max int
	// one makes the change for one user; it is also each caller's fallback
	// when many says errAlone.
	one func(ctx context.Context, groupID, userID string) error
	// many makes it for several (2 to max) in one request, with an answer
	// per user.
	many func(ctx context.Context, groupID string, userIDs []string) []error

	mu    sync.Mutex
	lanes map[string]*lane
	// joined, when set (tests), is told of each caller that joins a
	// gathering request.
	joined func(groupID string)
}

// errAlone is many's answer for a user whose change should be made
// alone: the request failed as a whole, and only the user's own request
// can say why for them.
var errAlone = errors.New("make this change alone")

// lane is one group's requests of one kind.
type lane struct {
	inFlight int
	next     *gathering
}

// gathering is a request being gathered, then sent.
type gathering struct {
	users   []string // distinct, in order of arrival
	callers []*caller
	sent    bool
	done    chan struct{}
	// Set before done is closed:
	errs []error  // by index in users
	ids  []string // Graph request-ids of what was written
}

type caller struct {
	ctx  context.Context
	user string
}

func newCoalescer(max int, one func(context.Context, string, string) error, many func(context.Context, string, []string) []error) *coalescer {
	return &coalescer{max: max, one: one, many: many, lanes: map[string]*lane{}}
}

// do makes the change for userID in groupID, with other callers' when
// they come together.
func (c *coalescer) do(ctx context.Context, groupID, userID string) error {
	c.mu.Lock()
	l := c.lanes[groupID]
	if l == nil {
		l = &lane{}
		c.lanes[groupID] = l
	}
	if l.inFlight == 0 && l.next == nil {
		l.inFlight++
		c.mu.Unlock()
		defer c.finished(groupID)
		return c.one(ctx, groupID, userID)
	}
	g := l.next
	if g == nil {
		g = &gathering{done: make(chan struct{})}
		l.next = g
	}
	me := &caller{ctx: ctx, user: userID}
	g.callers = append(g.callers, me)
	if !slices.Contains(g.users, userID) {
		g.users = append(g.users, userID)
	}
	if len(g.users) == c.max {
		c.launch(groupID, l)
	}
	if c.joined != nil {
		c.joined(groupID)
	}
	c.mu.Unlock()

	select {
	case <-g.done:
	case <-ctx.Done():
		c.leave(groupID, g, me)
		return fault.Wrap(fault.Transient, fmt.Errorf("entra: waiting to change %s in group %s with others: %w", userID, groupID, ctx.Err()))
	}
	err := g.errs[slices.Index(g.users, userID)]
	if errors.Is(err, errAlone) {
		return c.one(ctx, groupID, userID)
	}
	for _, id := range g.ids {
		requestlog.Note(ctx, id)
	}
	return err
}

// launch sends the lane's gathering request; c.mu is held.
func (c *coalescer) launch(groupID string, l *lane) {
	g := l.next
	l.next = nil
	l.inFlight++
	g.sent = true
	go c.send(groupID, g)
}

// finished ends a request in flight and launches the one gathered
// meanwhile, if any.
func (c *coalescer) finished(groupID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lanes[groupID]
	l.inFlight--
	switch {
	case l.inFlight == 0 && l.next != nil:
		c.launch(groupID, l)
	case l.inFlight == 0:
		delete(c.lanes, groupID)
	}
}

// leave takes a caller whose context ended out of a request not yet sent
// (and its user, unless another caller wants the same); a request sent
// already is cancelled by the caller's context (see send).
func (c *coalescer) leave(groupID string, g *gathering, me *caller) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g.sent {
		return
	}
	g.callers = slices.DeleteFunc(g.callers, func(o *caller) bool { return o == me })
	if !slices.ContainsFunc(g.callers, func(o *caller) bool { return o.user == me.user }) {
		g.users = slices.DeleteFunc(g.users, func(u string) bool { return u == me.user })
	}
	if l := c.lanes[groupID]; len(g.callers) == 0 && l != nil && l.next == g {
		l.next = nil
		if l.inFlight == 0 {
			delete(c.lanes, groupID)
		}
	}
}

// send makes a gathered request and hands each caller its answer. It
// runs on a goroutine of its own: a panic there would end the process, so
// it is recovered, and each caller makes its change alone (and meets the
// panic, if it comes again, where the worker recovers it).
func (c *coalescer) send(groupID string, g *gathering) {
	c.mu.Lock()
	callers, users := slices.Clone(g.callers), slices.Clone(g.users)
	c.mu.Unlock()
	ctx, cancel := within(callers)
	ctx, log := requestlog.New(ctx)
	defer func() {
		if recover() != nil || len(g.errs) != len(users) {
			g.errs = make([]error, len(users))
			for i := range g.errs {
				g.errs[i] = errAlone
			}
		}
		cancel()
		g.ids = log.IDs()
		close(g.done)
		c.finished(groupID)
	}()
	if len(users) == 1 {
		g.errs = []error{c.one(ctx, groupID, users[0])}
	} else {
		g.errs = c.many(ctx, groupID, users)
	}
	if ctx.Err() != nil {
		// A caller left, or the earliest deadline passed: the others try
		// alone, within their own time.
		for i, err := range g.errs {
			if err != nil {
				g.errs[i] = errAlone
			}
		}
	}
}

// within returns a context that ends as soon as any of the callers'
// does: its deadline is the earliest of theirs (so the SDK's retries
// plan with it), and a cancelled caller cancels it.
func within(callers []*caller) (context.Context, context.CancelFunc) {
	var earliest time.Time
	for _, cl := range callers {
		if d, ok := cl.ctx.Deadline(); ok && (earliest.IsZero() || d.Before(earliest)) {
			earliest = d
		}
	}
	parent, stopTimer := context.Background(), context.CancelFunc(func() {})
	if !earliest.IsZero() {
		parent, stopTimer = context.WithDeadline(parent, earliest)
	}
	ctx, cancel := context.WithCancel(parent)
	stops := make([]func() bool, len(callers))
	for i, cl := range callers {
		stops[i] = context.AfterFunc(cl.ctx, cancel)
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
		stopTimer()
	}
}
