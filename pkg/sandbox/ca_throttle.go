package sandbox

import (
	"net/http"
	"strings"
	"time"
)

// The Conditional Access limit. Graph's throttling reference
// (https://learn.microsoft.com/graph/throttling-limits, "Identity
// protection and conditional access service limits") gives one request per
// second per tenant, for all apps together, for conditionalAccessPolicy and
// named locations, and says these resources "don't return a Retry-After
// header on 429 Too Many Requests responses". Requests to them are not
// charged to the identity-and-access buckets of Throttle.

// EnableConditionalAccessThrottle turns on the Conditional Access limit:
// perSecond requests per second for the whole tenant, any method, direct or
// in a $batch; 0 or less means the documented 1. A request over the limit
// gets 429 TooManyRequests without a Retry-After header, and is not
// counted. The limit starts with a full second's allowance. It is off until
// turned on (see the package documentation).
func (t *Tenant) EnableConditionalAccessThrottle(perSecond int) {
	if perSecond <= 0 {
		perSecond = 1
	}
	b := newBucket(perSecond, time.Second, t.now())
	t.mu.Lock()
	defer t.mu.Unlock()
	t.caThr = b
}

// DisableConditionalAccessThrottle turns the Conditional Access limit off.
func (t *Tenant) DisableConditionalAccessThrottle() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.caThr = nil
}

// isConditionalAccess reports whether c addresses /identity/conditionalAccess.
func isConditionalAccess(c *gcall) bool {
	p := strings.ToLower(strings.Trim(c.path, "/"))
	return p == "identity/conditionalaccess" || strings.HasPrefix(p, "identity/conditionalaccess/")
}

// throttleConditionalAccess charges c to the tenant's Conditional Access
// limit; it returns the 429 answer when c is over it.
func (t *Tenant) throttleConditionalAccess(c *gcall) *gresp {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.caThr
	if b == nil {
		return nil
	}
	b.refill(now)
	if b.wait(1) > 0 {
		return c.fail(http.StatusTooManyRequests, "TooManyRequests", "Please retry again later.")
	}
	b.level--
	return nil
}
