package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Throttle configures Graph's identity-and-access throttling
// (https://learn.microsoft.com/graph/throttling-limits): per app and
// tenant, a token bucket of resource units refilled continuously over
// 10 seconds, and a bucket of writes refilled over 150 seconds.
type Throttle struct {
	// UnitsPer10s is the resource-unit budget; 0 means 3,500, the
	// documented limit for a tenant under 50 users (5,000 for 50–500,
	// 8,000 above).
	UnitsPer10s int
	// WritesPer150s is the write budget; 0 means the documented 3,000.
	WritesPer150s int
	// WritesSpent is how much of the write budget every app has used
	// when throttling starts (0: a full bucket; WritesPer150s: an app
	// already at its ceiling, whose next write waits for the refill).
	WritesSpent int
}

// Usage is what the throttle charged one app since EnableThrottling.
type Usage struct {
	// Writes are the write requests charged (a $batch's items one by
	// one, the envelope not at all), whatever their answer but 429.
	Writes int
	// Units are the resource units charged.
	Units int
	// Throttled are the requests answered 429 by the identity-and-access
	// buckets (their items, for a $batch).
	Throttled int
}

// EnableThrottling turns throttling on with th, with every app's buckets
// full (less th.WritesSpent), and its usage counted from zero.
func (t *Tenant) EnableThrottling(th Throttle) {
	if th.UnitsPer10s <= 0 {
		th.UnitsPer10s = 3500
	}
	if th.WritesPer150s <= 0 {
		th.WritesPer150s = 3000
	}
	th.WritesSpent = min(max(th.WritesSpent, 0), th.WritesPer150s)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.thr = &throttler{cfg: th, apps: map[string]*appBuckets{}}
}

// ThrottleUsage reports, by app id, what the throttle charged since
// EnableThrottling (nil while it is off): what the app cost Graph.
func (t *Tenant) ThrottleUsage() map[string]Usage {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.thr == nil {
		return nil
	}
	out := make(map[string]Usage, len(t.thr.apps))
	for id, ab := range t.thr.apps {
		out[id] = ab.usage
	}
	return out
}

// DisableThrottling turns throttling off.
func (t *Tenant) DisableThrottling() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.thr = nil
}

type throttler struct {
	cfg  Throttle
	apps map[string]*appBuckets
}

type appBuckets struct {
	units, writes *bucket
	usage         Usage
}

// bucket is a token bucket that refills continuously.
type bucket struct {
	capacity, perSec, level float64
	last                    time.Time
}

func newBucket(capacity int, window time.Duration, now time.Time) *bucket {
	c := float64(capacity)
	return &bucket{capacity: c, perSec: c / window.Seconds(), level: c, last: now}
}

func (b *bucket) refill(now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.level = math.Min(b.capacity, b.level+dt*b.perSec)
		b.last = now
	}
}

// wait is how long until the bucket holds cost, in seconds.
func (b *bucket) wait(cost float64) float64 {
	if b.level >= cost-1e-9 { // forgive rounding in the refill arithmetic
		return 0
	}
	return (cost - b.level) / b.perSec
}

// requestCost is the documented resource-unit cost of a request and
// whether it also counts as a write.
func requestCost(c *gcall) (int, bool) {
	segs := strings.Split(strings.ToLower(strings.Trim(c.path, "/")), "/")
	cost := 1
	if c.method == http.MethodGet {
		switch {
		case len(segs) == 1 && segs[0] == "users":
			cost = 2
		case len(segs) >= 3 && segs[0] == "groups" && segs[2] == "members":
			cost = 3
		}
	}
	q, _ := url.ParseQuery(c.rawQuery)
	for k, v := range q {
		switch strings.ToLower(k) {
		case "$select":
			cost--
		case "$expand":
			cost++
		case "$top":
			if n, err := strconv.Atoi(v[0]); err == nil && n < 20 {
				cost--
			}
		}
	}
	write := c.method != http.MethodGet && c.method != http.MethodHead
	return max(cost, 1), write
}

// throttle charges c to its app's buckets. It returns the headers for a
// request that goes through, or the 429 answer.
func (t *Tenant) throttle(c *gcall) (http.Header, *gresp) {
	if isConditionalAccess(c) {
		// Governed by its own service's limit, not the identity buckets.
		return nil, t.throttleConditionalAccess(c)
	}
	if isReports(c) {
		// The reports have their own limit, always on (see ReportsLimit).
		return nil, t.throttleReports(c)
	}
	cost, write := requestCost(c)
	now := t.now()
	t.mu.Lock()
	th := t.thr
	if th == nil {
		t.mu.Unlock()
		return nil, nil
	}
	ab := th.apps[c.app.appID]
	if ab == nil {
		ab = &appBuckets{
			units:  newBucket(th.cfg.UnitsPer10s, 10*time.Second, now),
			writes: newBucket(th.cfg.WritesPer150s, 150*time.Second, now),
		}
		ab.writes.level -= float64(th.cfg.WritesSpent)
		th.apps[c.app.appID] = ab
	}
	ab.units.refill(now)
	ab.writes.refill(now)
	waitUnits := ab.units.wait(float64(cost))
	waitWrites := 0.0
	if write {
		waitWrites = ab.writes.wait(1)
	}
	if waitUnits > 0 || waitWrites > 0 {
		ab.usage.Throttled++
		t.mu.Unlock()
		limit, info, wait := "ReadWrite", "ResourceUnitLimitExceeded", waitUnits
		if waitWrites > waitUnits {
			limit, info, wait = "Write", "WriteLimitExceeded", waitWrites
		}
		res := c.fail(http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.")
		res.header.Set("Retry-After", retryAfter(wait))
		res.header.Set("x-ms-throttle-scope", fmt.Sprintf("Tenant_Application/%s/%s/%s", limit, c.app.appID, t.TenantID()))
		res.header.Set("x-ms-throttle-information", info)
		return nil, res
	}
	ab.units.level -= float64(cost)
	ab.usage.Units += cost
	if write {
		ab.writes.level--
		ab.usage.Writes++
	}
	used := math.Max(1-ab.units.level/ab.units.capacity, 1-ab.writes.level/ab.writes.capacity)
	t.mu.Unlock()
	h := http.Header{"X-Ms-Resource-Unit": {strconv.Itoa(cost)}}
	if used > 0.8 {
		h.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(used, 'f', 2, 64))
	}
	return h, nil
}

// retryAfter formats a wait in seconds, rounded up to the millisecond,
// like "2.128".
func retryAfter(sec float64) string {
	return strconv.FormatFloat(math.Ceil(sec*1000)/1000, 'f', -1, 64)
}
