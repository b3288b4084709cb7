package sqsfake

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// queueURLOutput answers CreateQueue and GetQueueUrl.
type queueURLOutput struct {
	QueueUrl string `json:"QueueUrl"`
}

func (s *Server) opCreateQueue(c *call) (any, *apiError) {
	var in struct {
		QueueName  string
		Attributes map[string]string
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, errMissingParameter("QueueName")
	}
	cfg, err := parseQueueAttributes(in.Attributes)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.createQueue(in.QueueName, cfg, time.Now()); err != nil {
		return nil, err
	}
	return queueURLOutput{QueueUrl: s.queueURL(in.QueueName)}, nil
}

// intAttribute parses a numeric queue attribute within [lo, hi].
func intAttribute(name, v string, lo, hi int) (int, *apiError) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, errInvalidParameter("Invalid value for the parameter %s.", name)
	}
	return n, nil
}

// boolAttribute parses "true" or "false".
func boolAttribute(name, v string) (bool, *apiError) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errInvalidParameter("Invalid value for the parameter %s.", name)
}

// parseQueueAttributes turns CreateQueue's Attributes into a config.
// Attributes that change nothing here (Policy, KMS and SSE settings,
// MessageRetentionPeriod, FifoThroughputLimit, RedriveAllowPolicy) are
// validated loosely and ignored.
func parseQueueAttributes(attrs map[string]string) (config, *apiError) {
	cfg := config{visibility: 30 * time.Second, maxSize: maxMessageSize, dedupScope: "queue"}
	var err *apiError
	var n int
	for _, name := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[name]
		switch name {
		case "FifoQueue":
			cfg.fifo, err = boolAttribute(name, v)
		case "ContentBasedDeduplication":
			cfg.cbd, err = boolAttribute(name, v)
		case "VisibilityTimeout":
			n, err = intAttribute(name, v, 0, 43200)
			cfg.visibility = time.Duration(n) * time.Second
		case "DelaySeconds":
			n, err = intAttribute(name, v, 0, 900)
			cfg.delay = time.Duration(n) * time.Second
		case "ReceiveMessageWaitTimeSeconds":
			n, err = intAttribute(name, v, 0, 20)
			cfg.wait = time.Duration(n) * time.Second
		case "MaximumMessageSize":
			cfg.maxSize, err = intAttribute(name, v, 1024, maxMessageSize)
		case "MessageRetentionPeriod":
			_, err = intAttribute(name, v, 60, 1209600)
		case "DeduplicationScope":
			if v != "queue" && v != "messageGroup" {
				err = errInvalidParameter("Invalid value for the parameter DeduplicationScope.")
			}
			cfg.dedupScope = v
		case "RedrivePolicy":
			cfg.dlq, cfg.maxReceive, err = parseRedrivePolicy(v)
		case "FifoThroughputLimit", "Policy", "RedriveAllowPolicy", "KmsMasterKeyId",
			"KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled":
		default:
			err = errInvalidAttributeName(name)
		}
		if err != nil {
			return config{}, err
		}
	}
	return cfg, nil
}

// parseRedrivePolicy reads {"deadLetterTargetArn": ARN, "maxReceiveCount": N};
// SQS accepts the count as a number or a string.
func parseRedrivePolicy(v string) (string, int, *apiError) {
	var p struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return "", 0, errInvalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.", v)
	}
	name, err := nameFromARN(p.DeadLetterTargetArn)
	if err != nil {
		return "", 0, errInvalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: %v.", v, err)
	}
	count, convErr := strconv.Atoi(strings.Trim(string(p.MaxReceiveCount), `"`))
	if convErr != nil {
		return "", 0, errInvalidParameter("Value %s for parameter RedrivePolicy is invalid. Reason: Redrive policy does not contain mandatory attribute: maxReceiveCount.", v)
	}
	return name, count, nil
}

func (s *Server) opGetQueueURL(c *call) (any, *apiError) {
	var in struct {
		QueueName              string
		QueueOwnerAWSAccountId string
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	if in.QueueName == "" {
		return nil, errMissingParameter("QueueName")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[in.QueueName] == nil || (in.QueueOwnerAWSAccountId != "" && in.QueueOwnerAWSAccountId != accountID) {
		return nil, errQueueDoesNotExist()
	}
	return queueURLOutput{QueueUrl: s.queueURL(in.QueueName)}, nil
}

// queueAttributeNames are the attributes GetQueueAttributes knows.
var queueAttributeNames = []string{
	"All", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
	"ApproximateNumberOfMessagesNotVisible", "ContentBasedDeduplication", "CreatedTimestamp",
	"DeduplicationScope", "DelaySeconds", "FifoQueue", "FifoThroughputLimit",
	"KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "LastModifiedTimestamp",
	"MaximumMessageSize", "MessageRetentionPeriod", "Policy", "QueueArn",
	"ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy", "RedrivePolicy",
	"SqsManagedSseEnabled", "VisibilityTimeout",
}

// attributes are q's attributes as GetQueueAttributes shows them.
// Sub-second visibility timeouts (set through QueueOptions) round up.
func (q *queue) attributes(now time.Time) map[string]string {
	visible, inFlight, delayed := q.counts(now)
	seconds := func(d time.Duration) string { return strconv.Itoa(int((d + time.Second - 1) / time.Second)) }
	a := map[string]string{
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(inFlight),
		"ApproximateNumberOfMessagesDelayed":    strconv.Itoa(delayed),
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
		"LastModifiedTimestamp":                 strconv.FormatInt(q.modified.Unix(), 10),
		"DelaySeconds":                          seconds(q.cfg.delay),
		"MaximumMessageSize":                    strconv.Itoa(q.cfg.maxSize),
		"MessageRetentionPeriod":                "345600",
		"QueueArn":                              q.arn(),
		"ReceiveMessageWaitTimeSeconds":         seconds(q.cfg.wait),
		"VisibilityTimeout":                     seconds(q.cfg.visibility),
		"SqsManagedSseEnabled":                  "true",
	}
	if q.cfg.dlq != "" {
		policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": queueARN(q.cfg.dlq), "maxReceiveCount": q.cfg.maxReceive})
		a["RedrivePolicy"] = string(policy)
	}
	if q.cfg.fifo {
		a["FifoQueue"] = "true"
		a["ContentBasedDeduplication"] = strconv.FormatBool(q.cfg.cbd)
		a["DeduplicationScope"] = q.cfg.dedupScope
		a["FifoThroughputLimit"] = "perQueue"
	}
	return a
}

func (s *Server) opGetQueueAttributes(c *call) (any, *apiError) {
	var in struct {
		QueueUrl       string
		AttributeNames []string
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	for _, n := range in.AttributeNames {
		if !slices.Contains(queueAttributeNames, n) {
			return nil, errInvalidAttributeName(n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	all := q.attributes(time.Now())
	out := map[string]string{}
	for _, n := range in.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return struct {
		Attributes map[string]string `json:"Attributes,omitempty"`
	}{out}, nil
}

func (s *Server) opPurgeQueue(c *call) (any, *apiError) {
	var in struct{ QueueUrl string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if !q.lastPurge.IsZero() && now.Sub(q.lastPurge) < purgeInterval {
		return nil, errPurgeInProgress(q.name)
	}
	q.lastPurge = now
	clear(q.msgs)
	q.msgs = q.msgs[:0]
	s.notify()
	return struct{}{}, nil
}

func (s *Server) opListQueues(c *call) (any, *apiError) {
	var in struct{ QueueNamePrefix string }
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var urls []string
	for _, name := range slices.Sorted(maps.Keys(s.queues)) {
		if strings.HasPrefix(name, in.QueueNamePrefix) {
			urls = append(urls, s.queueURL(name))
		}
	}
	return struct {
		QueueUrls []string `json:"QueueUrls,omitempty"`
	}{urls}, nil
}
