package host

import (
	"testing"
	"time"
)

// A message is handled well inside its lease, so that a second worker
// never takes one still in hand.
func TestHandlingFitsInsideTheLease(t *testing.T) {
	for _, lease := range []time.Duration{5 * time.Second, 10 * time.Second, time.Minute, time.Hour} {
		got := handling(lease)
		if got <= 0 || got >= lease || got > 50*time.Second {
			t.Errorf("handling(%s) = %s, want positive, under the lease and at most 50s", lease, got)
		}
	}
}
