package sqsfake

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	accountID = "000000000000"
	region    = "us-east-1"
	// dedupWindow is FIFO's deduplication interval.
	dedupWindow = 5 * time.Minute
	// maxMessageSize is SQS's default and maximum message size (1 MiB since
	// August 2025; it was 256 KiB before).
	maxMessageSize = 1024 * 1024
	// maxVisibility is the 12-hour ceiling on a visibility timeout.
	maxVisibility = 12 * time.Hour
	// purgeInterval is how often PurgeQueue may run on one queue.
	purgeInterval = 60 * time.Second
)

var queueNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// QueueOptions configures a queue created with Server.CreateQueue.
type QueueOptions struct {
	FIFO                      bool          // the name must end in .fifo when true
	VisibilityTimeout         time.Duration // default 30 s; may be under a second, for fast tests
	MaxReceiveCount           int           // with DeadLetterQueue: redrive after this many receives
	DeadLetterQueue           string        // name of another queue on this server
	ContentBasedDeduplication bool
}

// config is a queue's settings, whichever API created it.
type config struct {
	fifo       bool
	cbd        bool
	visibility time.Duration
	delay      time.Duration
	wait       time.Duration // ReceiveMessageWaitTimeSeconds
	maxSize    int
	maxReceive int
	dlq        string // queue name
	dedupScope string // "queue" or "messageGroup"
}

// Message is a snapshot of one message in a queue, for assertions.
type Message struct {
	ID, Body, GroupID, DeduplicationID string
	// Attributes are the system attributes (SentTimestamp,
	// ApproximateReceiveCount, SequenceNumber, …) as ReceiveMessage shows them.
	Attributes map[string]string
	// MessageAttributes are the user attributes' values: StringValue for
	// String and Number types, the raw bytes for Binary.
	MessageAttributes map[string]string
	ReceiveCount      int
	SentAt            time.Time
}

// attrValue is one message attribute as the JSON protocol carries it.
type attrValue struct {
	DataType         string   `json:"DataType"`
	StringValue      *string  `json:"StringValue,omitempty"`
	BinaryValue      []byte   `json:"BinaryValue,omitempty"`
	StringListValues []string `json:"StringListValues,omitempty"`
	BinaryListValues [][]byte `json:"BinaryListValues,omitempty"`
}

// message is a message stored in a queue.
type message struct {
	id, body, groupID, dedupID, seq, sender string
	attrs                                   map[string]attrValue
	traceHeader                             string // the AWSTraceHeader system attribute
	dlqSource                               string // DeadLetterQueueSourceArn once redriven
	sentAt, firstReceive                    time.Time
	receiveCount                            int
	visibleAt                               time.Time // hidden (delayed or in flight) until then
	receipt                                 string    // the latest receipt handle; "" until received
}

// inFlight reports whether m was received and its visibility timeout has
// not expired.
func (m *message) inFlight(now time.Time) bool {
	return m.receipt != "" && now.Before(m.visibleAt)
}

// systemAttributes are m's system attributes, as ReceiveMessage names them.
func (m *message) systemAttributes(fifo bool) map[string]string {
	a := map[string]string{
		"SenderId":                m.sender,
		"SentTimestamp":           strconv.FormatInt(m.sentAt.UnixMilli(), 10),
		"ApproximateReceiveCount": strconv.Itoa(m.receiveCount),
	}
	if !m.firstReceive.IsZero() {
		a["ApproximateFirstReceiveTimestamp"] = strconv.FormatInt(m.firstReceive.UnixMilli(), 10)
	}
	if m.groupID != "" {
		a["MessageGroupId"] = m.groupID
	}
	if fifo {
		a["MessageDeduplicationId"] = m.dedupID
		a["SequenceNumber"] = m.seq
	}
	if m.traceHeader != "" {
		a["AWSTraceHeader"] = m.traceHeader
	}
	if m.dlqSource != "" {
		a["DeadLetterQueueSourceArn"] = m.dlqSource
	}
	return a
}

// snapshot copies m for Server.Messages.
func (m *message) snapshot(fifo bool) Message {
	attrs := map[string]string{}
	for name, v := range m.attrs {
		if v.StringValue != nil {
			attrs[name] = *v.StringValue
		} else {
			attrs[name] = string(v.BinaryValue)
		}
	}
	return Message{
		ID: m.id, Body: m.body, GroupID: m.groupID, DeduplicationID: m.dedupID,
		Attributes: m.systemAttributes(fifo), MessageAttributes: attrs,
		ReceiveCount: m.receiveCount, SentAt: m.sentAt,
	}
}

// dedupRecord remembers an accepted FIFO send for the deduplication window.
type dedupRecord struct {
	id, seq string
	at      time.Time
}

// queue is one queue's state; the server's mutex guards it.
type queue struct {
	name              string
	cfg               config
	created, modified time.Time
	msgs              []*message // in send order
	dedup             map[string]dedupRecord
	lastPurge         time.Time
}

func (q *queue) arn() string { return queueARN(q.name) }

func queueARN(name string) string { return "arn:aws:sqs:" + region + ":" + accountID + ":" + name }

// sendInput is one message to enqueue, already decoded.
type sendInput struct {
	body, groupID, dedupID, sender, traceHeader string
	attrs                                       map[string]attrValue
	delay                                       *time.Duration // per message; nil means the queue's
}

// sendResult is what SendMessage answers.
type sendResult struct {
	id, seq string
}

// send validates and enqueues in (FIFO: unless it is a duplicate). The
// caller holds the server's mutex and has validated body and attributes.
func (s *Server) send(q *queue, in sendInput, now time.Time) (sendResult, *apiError) {
	delay := q.cfg.delay
	if in.delay != nil {
		if q.cfg.fifo {
			return sendResult{}, errInvalidParameter("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", int(in.delay.Seconds()))
		}
		delay = *in.delay
	}
	m := &message{
		id: newUUID(), body: in.body, groupID: in.groupID, sender: in.sender,
		traceHeader: in.traceHeader, attrs: in.attrs, sentAt: now, visibleAt: now.Add(delay),
	}
	if !q.cfg.fifo {
		if in.dedupID != "" {
			return sendResult{}, errInvalidParameter("The request include parameter MessageDeduplicationId that is not valid for this queue type.")
		}
		q.msgs = append(q.msgs, m)
		return sendResult{id: m.id}, nil
	}
	if in.groupID == "" {
		return sendResult{}, errMissingParameter("MessageGroupId")
	}
	if err := checkFIFOID("MessageGroupId", in.groupID); err != nil {
		return sendResult{}, err
	}
	m.dedupID = in.dedupID
	if m.dedupID == "" {
		if !q.cfg.cbd {
			return sendResult{}, errInvalidParameter("The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
		sum := sha256.Sum256([]byte(in.body)) // the body only, not the attributes
		m.dedupID = hex.EncodeToString(sum[:])
	} else if err := checkFIFOID("MessageDeduplicationId", m.dedupID); err != nil {
		return sendResult{}, err
	}
	key := m.dedupID
	if q.cfg.dedupScope == "messageGroup" {
		key = m.groupID + "\x00" + m.dedupID
	}
	for k, r := range q.dedup {
		if now.Sub(r.at) >= dedupWindow {
			delete(q.dedup, k)
		}
	}
	if r, ok := q.dedup[key]; ok {
		// Accepted, answered like the original, not enqueued again.
		return sendResult{id: r.id, seq: r.seq}, nil
	}
	m.seq = s.nextSequence()
	q.dedup[key] = dedupRecord{id: m.id, seq: m.seq, at: now}
	q.msgs = append(q.msgs, m)
	return sendResult{id: m.id, seq: m.seq}, nil
}

var fifoIDRE = regexp.MustCompile("^[A-Za-z0-9!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~]{1,128}$")

// checkFIFOID validates a MessageGroupId or MessageDeduplicationId: up to 128
// alphanumeric or punctuation characters.
func checkFIFOID(param, v string) *apiError {
	if !fifoIDRE.MatchString(v) {
		return errInvalidParameter("Value %s for parameter %s is invalid. Reason: The value must be 1 to 128 alphanumeric or punctuation characters.", v, param)
	}
	return nil
}

// receive hands out up to max messages with the given visibility timeout,
// redriving to the dead-letter queue any message whose receive count would
// exceed maxReceiveCount. The caller holds the server's mutex.
//
// On a FIFO queue a group with a message in flight yields nothing, a group's
// messages come in order, and, as documented, a receive returns as many
// messages of one group as it can before moving to the next group (groups
// taken oldest first).
func (s *Server) receive(q *queue, max int, visibility time.Duration, now time.Time) []*message {
	var out, redriven []*message
	take := func(m *message) bool { // reports whether the caller may go on to later messages
		if now.Before(m.visibleAt) {
			return false // delayed or in flight
		}
		if q.cfg.maxReceive > 0 && m.receiveCount >= q.cfg.maxReceive {
			redriven = append(redriven, m)
			return true
		}
		m.receiveCount++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.receipt = newReceipt(q.name, m.id)
		m.visibleAt = now.Add(visibility)
		out = append(out, m)
		return true
	}
	if !q.cfg.fifo {
		for _, m := range q.msgs {
			if len(out) == max {
				break
			}
			take(m)
		}
	} else {
		var order []string
		groups := map[string][]*message{}
		locked := map[string]bool{}
		for _, m := range q.msgs {
			if _, ok := groups[m.groupID]; !ok {
				order = append(order, m.groupID)
			}
			groups[m.groupID] = append(groups[m.groupID], m)
			if m.inFlight(now) {
				locked[m.groupID] = true
			}
		}
	groups:
		for _, g := range order {
			if locked[g] {
				continue
			}
			for _, m := range groups[g] {
				if len(out) == max {
					break groups
				}
				if !take(m) {
					break
				}
			}
		}
	}
	if len(redriven) > 0 {
		s.redrive(q, redriven, now)
	}
	return out
}

// redrive moves msgs from q to its dead-letter queue, keeping their id,
// body, attributes, message attributes and counts.
func (s *Server) redrive(q *queue, msgs []*message, now time.Time) {
	dlq := s.queues[q.cfg.dlq]
	gone := map[*message]bool{}
	for _, m := range msgs {
		gone[m] = true
		if dlq == nil {
			continue // the dead-letter queue was never created; the message is lost
		}
		moved := *m
		moved.attrs = maps.Clone(m.attrs)
		moved.receipt, moved.visibleAt = "", now
		moved.dlqSource = q.arn()
		if dlq.cfg.fifo {
			moved.seq = s.nextSequence()
		}
		dlq.msgs = append(dlq.msgs, &moved)
	}
	q.msgs = removeMessages(q.msgs, func(m *message) bool { return gone[m] })
	s.notify()
}

// lookupReceipt finds the message a receipt handle refers to. It answers
// ReceiptHandleIsInvalid for handles this queue never issued, and a nil
// message for one whose message is gone (deleted, redriven or purged).
func lookupReceipt(q *queue, receipt string) (*message, *apiError) {
	name, id, ok := parseReceipt(receipt)
	if !ok || name != q.name {
		return nil, errReceiptHandle("The input receipt handle %q is not a valid receipt handle.", receipt)
	}
	for _, m := range q.msgs {
		if m.id == id {
			return m, nil
		}
	}
	return nil, nil
}

// deleteMessage deletes the message of receipt. Deleting a message that is
// already gone succeeds. A handle from an earlier receive succeeds without
// deleting on a standard queue (as documented) and is invalid on a FIFO
// queue, as is the latest handle once its visibility timeout has expired.
func (s *Server) deleteMessage(q *queue, receipt string, now time.Time) *apiError {
	m, err := lookupReceipt(q, receipt)
	if err != nil || m == nil {
		return err
	}
	stale := m.receipt != receipt
	if q.cfg.fifo && (stale || !m.inFlight(now)) {
		return errReceiptHandle("The receipt handle has expired.")
	}
	if stale {
		return nil
	}
	q.msgs = removeMessages(q.msgs, func(x *message) bool { return x == m })
	s.notify()
	return nil
}

// changeVisibility sets how long from now the message of receipt stays
// hidden.
func (s *Server) changeVisibility(q *queue, receipt string, d time.Duration, now time.Time) *apiError {
	if d < 0 || d > maxVisibility {
		return errInvalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", int(d.Seconds()))
	}
	m, err := lookupReceipt(q, receipt)
	if err != nil {
		return err
	}
	if m == nil || m.receipt != receipt {
		return errReceiptHandle("The receipt handle has expired.")
	}
	if !m.inFlight(now) {
		return errNotInflight()
	}
	m.visibleAt = now.Add(d)
	s.notify()
	return nil
}

// nextWake is when a hidden message of q next becomes visible (zero if
// none), so a long poll can wake for it.
func (q *queue) nextWake(now time.Time) time.Time {
	var next time.Time
	for _, m := range q.msgs {
		if now.Before(m.visibleAt) && (next.IsZero() || m.visibleAt.Before(next)) {
			next = m.visibleAt
		}
	}
	return next
}

// counts returns the visible, in-flight and delayed message counts.
func (q *queue) counts(now time.Time) (visible, inFlight, delayed int) {
	for _, m := range q.msgs {
		switch {
		case m.inFlight(now):
			inFlight++
		case now.Before(m.visibleAt):
			delayed++
		default:
			visible++
		}
	}
	return visible, inFlight, delayed
}

func removeMessages(msgs []*message, drop func(*message) bool) []*message {
	kept := msgs[:0]
	for _, m := range msgs {
		if !drop(m) {
			kept = append(kept, m)
		}
	}
	clear(msgs[len(kept):])
	return kept
}

// checkName validates a queue name for the queue type.
func checkName(name string, fifo bool) *apiError {
	base, isFIFOName := strings.CutSuffix(name, ".fifo")
	switch {
	case fifo && !isFIFOName:
		return errInvalidParameter("The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
	case !fifo && isFIFOName:
		return errInvalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (a .fifo name needs FifoQueue=true).")
	case !queueNameRE.MatchString(base) || len(name) > 80:
		return errInvalidParameter("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	return nil
}

// nameFromARN returns the queue name of an SQS ARN of this fake's account.
func nameFromARN(arn string) (string, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[4] != accountID {
		return "", fmt.Errorf("%q is not an SQS queue ARN of account %s", arn, accountID)
	}
	return parts[5], nil
}
