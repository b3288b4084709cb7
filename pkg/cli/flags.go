package cli

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"
)

// The bounds of serve's flags.
const (
	// maxWorkers bounds --workers: the ledger and the embedded queue are one
	// SQLite file with a single writer, and Graph throttles per app; more
	// workers than this only wait on each other.
	maxWorkers = 64
	// minLease and maxLease bound --lease, the time a message in hand is
	// hidden from the other workers.
	minLease = 5 * time.Second
	maxLease = time.Hour
	// minTick and maxTick bound --tick, the safety tick's period (serve
	// also wakes at each due start or end): a tick reads the due index, so
	// a second costs little; past an hour, an end another replica moved
	// could be acted on too late to call it access that ends with the
	// contract.
	minTick = time.Second
	maxTick = time.Hour
)

// checkData refuses an empty --data, which would scatter the ledger and
// the webhook secret in the working directory.
func checkData(dir string) error {
	if dir == "" {
		return fmt.Errorf("--data is empty: give the data directory (or set STINT_DATA)")
	}
	return nil
}

// checkWorkers: at least one worker, or events are accepted and never
// applied.
func checkWorkers(n int) error {
	if n < 1 || n > maxWorkers {
		return fmt.Errorf("--workers %d: want 1 to %d messages handled at once", n, maxWorkers)
	}
	return nil
}

// checkLease: a lease shorter than a message's handling lets a second
// worker take the message while the first still holds it, and the event is
// applied twice (or more); a very long one keeps a message a crash left in
// hand waiting that long.
func checkLease(d time.Duration) error {
	if d < minLease {
		return fmt.Errorf("--lease %s: want at least %s: a lease shorter than a message's handling lets a second worker take the message while the first still holds it, and the event is applied more than once", d, minLease)
	}
	if d > maxLease {
		return fmt.Errorf("--lease %s: want at most %s: after a crash, a message in hand waits its whole lease before another worker takes it", d, maxLease)
	}
	return nil
}

// checkTick keeps --tick between minTick and maxTick.
func checkTick(d time.Duration) error {
	if d < minTick || d > maxTick {
		return fmt.Errorf("--tick %s: want %s to %s between safety ticks (serve also wakes at each due start or end)", d, minTick, maxTick)
	}
	return nil
}

// checkAddr wants host:port with a port number (0 picks a free one).
func checkAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:8080 (:8080 listens on every interface)", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("--addr %q: the port %q is not a number from 0 to 65535", addr, port)
	}
	return nil
}

// checkLimit: 0 means every entry; a negative limit means nothing.
func checkLimit(n int) error {
	if n < 0 {
		return fmt.Errorf("--limit %d: want 0 (every entry) or more (the newest N)", n)
	}
	return nil
}

// checkURL wants an absolute http or https URL with a host.
func checkURL(flag, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http or https URL, e.g. http://127.0.0.1:8080/events", flag, raw)
	}
	return nil
}

// parseSeq reads a dead letter's number, as stint dlq list shows it.
func parseSeq(arg string) (int64, error) {
	seq, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || seq < 1 {
		return 0, fmt.Errorf("SEQ %q: want the number stint dlq list shows", arg)
	}
	return seq, nil
}
