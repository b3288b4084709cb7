package sqsfake

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server is an Amazon SQS endpoint speaking the AWS JSON 1.0 protocol on a
// loopback port.
type Server struct {
	ln          net.Listener
	srv         *http.Server
	base        string
	unavailable atomic.Bool
	closed      chan struct{}
	once        sync.Once

	mu      sync.Mutex
	queues  map[string]*queue
	seq     uint64
	changed chan struct{} // closed and replaced on every change
	ops     map[string]func(*call) (any, *apiError)
}

// NewServer starts a server on 127.0.0.1 and a free port.
func NewServer() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sqsfake: listen: %w", err)
	}
	s := &Server{
		ln:      ln,
		base:    "http://" + ln.Addr().String(),
		closed:  make(chan struct{}),
		queues:  map[string]*queue{},
		seq:     10_000_000_000_000_000_000,
		changed: make(chan struct{}),
	}
	s.ops = s.operations()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close.
	return s, nil
}

// URL is "http://127.0.0.1:PORT", the value for AWS_ENDPOINT_URL_SQS.
func (s *Server) URL() string { return s.base }

// Close stops the server, its long polls and its mappings.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		close(s.closed)
		err = s.srv.Close()
	})
	return err
}

// SetUnavailable makes every request answer 503 ServiceUnavailable while on
// (and stops mappings from polling), for "queue unavailable" tests.
func (s *Server) SetUnavailable(on bool) { s.unavailable.Store(on) }

// CreateQueue creates a queue and returns its URL
// (http://127.0.0.1:PORT/000000000000/NAME). Creating an existing queue with
// the same options returns its URL; with other options it fails, as SQS
// does.
func (s *Server) CreateQueue(name string, o QueueOptions) (string, error) {
	cfg := config{
		fifo: o.FIFO, cbd: o.ContentBasedDeduplication, visibility: o.VisibilityTimeout,
		maxSize: maxMessageSize, maxReceive: o.MaxReceiveCount, dlq: o.DeadLetterQueue, dedupScope: "queue",
	}
	if cfg.visibility == 0 {
		cfg.visibility = 30 * time.Second
	}
	if (o.MaxReceiveCount > 0) != (o.DeadLetterQueue != "") {
		return "", fmt.Errorf("sqsfake: create %s: MaxReceiveCount and DeadLetterQueue go together", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.createQueue(name, cfg, time.Now()); err != nil {
		return "", err
	}
	return s.queueURL(name), nil
}

// createQueue validates cfg and creates the queue. The caller holds s.mu.
func (s *Server) createQueue(name string, cfg config, now time.Time) *apiError {
	if err := checkName(name, cfg.fifo); err != nil {
		return err
	}
	if cfg.cbd && !cfg.fifo {
		return errInvalidParameter("ContentBasedDeduplication is only valid for FIFO queues.")
	}
	if cfg.visibility < 0 || cfg.visibility > maxVisibility {
		return errInvalidParameter("Invalid value for the parameter VisibilityTimeout.")
	}
	if cfg.dlq != "" {
		dlq := s.queues[cfg.dlq]
		switch {
		case dlq == nil:
			return errInvalidParameter("Value for parameter RedrivePolicy is invalid. Reason: Dead letter target does not exist.")
		case dlq.cfg.fifo != cfg.fifo:
			return errInvalidParameter("Value for parameter RedrivePolicy is invalid. Reason: Dead-letter queue must be the same type of queue as the source.")
		case cfg.maxReceive < 1 || cfg.maxReceive > 1000:
			return errInvalidParameter("Value for parameter RedrivePolicy is invalid. Reason: Invalid value for maxReceiveCount: %d, valid values are from 1 to 1000 both inclusive.", cfg.maxReceive)
		}
	}
	if q, ok := s.queues[name]; ok {
		if q.cfg != cfg {
			return errQueueNameExists(name)
		}
		return nil
	}
	s.queues[name] = &queue{name: name, cfg: cfg, created: now, modified: now, dedup: map[string]dedupRecord{}}
	return nil
}

// Messages returns every message now in the queue (visible, in flight or
// delayed), in the order they were sent; nil for an unknown queue.
func (s *Server) Messages(name string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return nil
	}
	out := make([]Message, 0, len(q.msgs))
	for _, m := range q.msgs {
		out = append(out, m.snapshot(q.cfg.fifo))
	}
	return out
}

func (s *Server) queueURL(name string) string { return s.base + "/" + accountID + "/" + name }

// queueFromURL resolves a QueueUrl. Only the path counts (/ACCOUNT/NAME), so
// URLs with the regional SQS host name work too. The caller holds s.mu.
func (s *Server) queueFromURL(raw string) (*queue, *apiError) {
	if raw == "" {
		return nil, errMissingParameter("QueueUrl")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errQueueDoesNotExist()
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] != accountID {
		return nil, errQueueDoesNotExist()
	}
	q := s.queues[parts[1]]
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}

// notify wakes long polls and idle waiters. The caller holds s.mu.
func (s *Server) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// nextSequence returns the next FIFO sequence number: 20 digits, increasing
// across the server. The caller holds s.mu.
func (s *Server) nextSequence() string {
	s.seq++
	return fmt.Sprintf("%020d", s.seq)
}

// ServeHTTP answers the AWS JSON 1.0 protocol: POST / with
// X-Amz-Target: AmazonSQS.<Operation>. Signatures are not checked.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", newUUID())
	if s.unavailable.Load() {
		errUnavailable().write(w)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		errUnknownOperation(target).write(w)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-amz-json-1.0") {
		errSerialization("sqsfake speaks only the AWS JSON 1.0 protocol; Content-Type %q", ct).write(w)
		return
	}
	handler, known := s.ops[op]
	if !known {
		if unimplemented[op] {
			errUnsupported(op).write(w)
		} else {
			errUnknownOperation(target).write(w)
		}
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4*maxMessageSize))
	if err != nil {
		errSerialization("reading the request: %v", err).write(w)
		return
	}
	c := &call{ctx: r.Context(), body: body, sender: senderID(r)}
	out, aerr := handler(c)
	if aerr != nil {
		aerr.write(w)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out) //nolint:errcheck // client went away
}

// call is one request to an operation.
type call struct {
	ctx    context.Context
	body   []byte
	sender string
}

// decode reads the request's JSON into v.
func (c *call) decode(v any) *apiError {
	if len(c.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, v); err != nil {
		return errSerialization("malformed request: %v", err)
	}
	return nil
}

// unimplemented are SQS operations this fake knows of but does not serve.
var unimplemented = map[string]bool{
	"AddPermission": true, "CancelMessageMoveTask": true, "DeleteQueue": true,
	"ListDeadLetterSourceQueues": true, "ListMessageMoveTasks": true, "ListQueueTags": true,
	"RemovePermission": true, "SetQueueAttributes": true, "StartMessageMoveTask": true,
	"TagQueue": true, "UntagQueue": true,
}

// senderID stands in for the SenderId attribute: the access key id of the
// request's SigV4 credential.
func senderID(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if _, rest, ok := strings.Cut(auth, "Credential="); ok {
		if key, _, ok := strings.Cut(rest, "/"); ok && key != "" {
			return key
		}
	}
	return "AIDAFAKESQSSENDER000"
}

// newUUID returns a random version-4 UUID, the form of SQS message ids.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newReceipt returns an opaque receipt handle naming the queue, the message
// and this receive.
func newReceipt(queueName, msgID string) string {
	var nonce [16]byte
	rand.Read(nonce[:])
	return base64.RawURLEncoding.EncodeToString([]byte(queueName + "\x00" + msgID + "\x00" + hex.EncodeToString(nonce[:])))
}

// parseReceipt reverses newReceipt.
func parseReceipt(h string) (queueName, msgID string, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "", "", false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 {
		return "", "", false
	}
	return parts[0], parts[1], true
}
