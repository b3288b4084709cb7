package sqsfake

import (
	"regexp"
	"strings"
	"time"
)

// operations maps X-Amz-Target operation names to their handlers; request
// and response members are named as in the SQS API reference.
func (s *Server) operations() map[string]func(*call) (any, *apiError) {
	return map[string]func(*call) (any, *apiError){
		"SendMessage":                  s.opSendMessage,
		"SendMessageBatch":             s.opSendMessageBatch,
		"ReceiveMessage":               s.opReceiveMessage,
		"DeleteMessage":                s.opDeleteMessage,
		"DeleteMessageBatch":           s.opDeleteMessageBatch,
		"ChangeMessageVisibility":      s.opChangeMessageVisibility,
		"ChangeMessageVisibilityBatch": s.opChangeMessageVisibilityBatch,
		"CreateQueue":                  s.opCreateQueue,
		"GetQueueUrl":                  s.opGetQueueURL,
		"GetQueueAttributes":           s.opGetQueueAttributes,
		"PurgeQueue":                   s.opPurgeQueue,
		"ListQueues":                   s.opListQueues,
	}
}

// sendEntry is a SendMessage request or a SendMessageBatch entry.
type sendEntry struct {
	Id                      string // batch entries only
	QueueUrl                string // SendMessage only
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]attrValue
	MessageSystemAttributes map[string]attrValue
	MessageDeduplicationId  string
	MessageGroupId          string
}

// sendOutput is a SendMessage response or a successful batch entry.
type sendOutput struct {
	Id                           string `json:"Id,omitempty"`
	MessageId                    string `json:"MessageId"`
	MD5OfMessageBody             string `json:"MD5OfMessageBody"`
	MD5OfMessageAttributes       string `json:"MD5OfMessageAttributes,omitempty"`
	MD5OfMessageSystemAttributes string `json:"MD5OfMessageSystemAttributes,omitempty"`
	SequenceNumber               string `json:"SequenceNumber,omitempty"`
}

// batchError is a failed batch entry (BatchResultErrorEntry).
type batchError struct {
	Id          string `json:"Id"`
	Code        string `json:"Code"`
	Message     string `json:"Message"`
	SenderFault bool   `json:"SenderFault"`
}

func entryError(id string, err *apiError) batchError {
	return batchError{Id: id, Code: err.code, Message: err.msg, SenderFault: err.fault == "Sender"}
}

// sendOne validates e and sends it to q. The caller holds s.mu.
func (s *Server) sendOne(q *queue, e sendEntry, sender string, now time.Time) (sendOutput, *apiError) {
	if e.MessageBody == nil || *e.MessageBody == "" {
		return sendOutput{}, errMissingParameter("MessageBody")
	}
	if !validChars(*e.MessageBody) {
		return sendOutput{}, errInvalidMessageContents()
	}
	attrSize, err := checkAttributes(e.MessageAttributes)
	if err != nil {
		return sendOutput{}, err
	}
	if size := len(*e.MessageBody) + attrSize; size > q.cfg.maxSize {
		return sendOutput{}, errInvalidParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.cfg.maxSize)
	}
	in := sendInput{
		body: *e.MessageBody, groupID: e.MessageGroupId, dedupID: e.MessageDeduplicationId,
		sender: sender, attrs: e.MessageAttributes,
	}
	for name, v := range e.MessageSystemAttributes {
		if name != "AWSTraceHeader" || v.DataType != "String" || derefString(v.StringValue) == "" {
			return sendOutput{}, errInvalidParameter("Message system attribute '%s' is invalid: only AWSTraceHeader, a String, is supported.", name)
		}
		in.traceHeader = *v.StringValue
	}
	if e.DelaySeconds != nil {
		if *e.DelaySeconds < 0 || *e.DelaySeconds > 900 {
			return sendOutput{}, errInvalidParameter("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", *e.DelaySeconds)
		}
		d := time.Duration(*e.DelaySeconds) * time.Second
		in.delay = &d
	}
	res, err := s.send(q, in, now)
	if err != nil {
		return sendOutput{}, err
	}
	s.notify()
	return sendOutput{
		Id: e.Id, MessageId: res.id, SequenceNumber: res.seq,
		MD5OfMessageBody:             md5Hex(in.body),
		MD5OfMessageAttributes:       md5OfAttributes(e.MessageAttributes),
		MD5OfMessageSystemAttributes: md5OfAttributes(e.MessageSystemAttributes),
	}, nil
}

func (s *Server) opSendMessage(c *call) (any, *apiError) {
	var in sendEntry
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	in.Id = ""
	return s.sendOne(q, in, c.sender, time.Now())
}

var batchIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// checkBatchIDs applies the batch rules: 1 to 10 entries with distinct ids
// of up to 80 letters, digits, hyphens and underscores.
func checkBatchIDs(ids []string) *apiError {
	switch {
	case len(ids) == 0:
		return errEmptyBatch()
	case len(ids) > 10:
		return errTooManyEntries(len(ids))
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !batchIDRE.MatchString(id) {
			return errInvalidBatchID(id)
		}
		if seen[id] {
			return errIDsNotDistinct(id)
		}
		seen[id] = true
	}
	return nil
}

func (s *Server) opSendMessageBatch(c *call) (any, *apiError) {
	var in struct {
		QueueUrl string
		Entries  []sendEntry
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		return nil, err
	}
	ids, size := make([]string, len(in.Entries)), 0
	for i, e := range in.Entries {
		ids[i] = e.Id
		size += len(derefString(e.MessageBody))
		for name, v := range e.MessageAttributes {
			size += len(name) + len(v.DataType) + len(derefString(v.StringValue)) + len(v.BinaryValue)
		}
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	if size > q.cfg.maxSize {
		return nil, errBatchTooLong(size, q.cfg.maxSize)
	}
	out := struct {
		Successful []sendOutput `json:"Successful"`
		Failed     []batchError `json:"Failed"`
	}{Successful: []sendOutput{}, Failed: []batchError{}}
	now := time.Now()
	for _, e := range in.Entries {
		e.QueueUrl = ""
		res, err := s.sendOne(q, e, c.sender, now)
		if err != nil {
			out.Failed = append(out.Failed, entryError(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, res)
	}
	return out, nil
}

// messageOut is a received message (the Message shape).
type messageOut struct {
	MessageId              string               `json:"MessageId"`
	ReceiptHandle          string               `json:"ReceiptHandle"`
	MD5OfBody              string               `json:"MD5OfBody"`
	Body                   string               `json:"Body"`
	Attributes             map[string]string    `json:"Attributes,omitempty"`
	MessageAttributes      map[string]attrValue `json:"MessageAttributes,omitempty"`
	MD5OfMessageAttributes string               `json:"MD5OfMessageAttributes,omitempty"`
}

// render shows m as ReceiveMessage does, with the requested system
// attributes (sys) and message attributes (names: exact names, "All", ".*"
// or "prefix.*"). MD5OfMessageAttributes covers the attributes returned.
func render(m *message, fifo bool, sys, names []string) messageOut {
	out := messageOut{MessageId: m.id, ReceiptHandle: m.receipt, MD5OfBody: md5Hex(m.body), Body: m.body}
	all := m.systemAttributes(fifo)
	for _, n := range sys {
		if n == "All" {
			out.Attributes = all
			break
		}
		if v, ok := all[n]; ok {
			if out.Attributes == nil {
				out.Attributes = map[string]string{}
			}
			out.Attributes[n] = v
		}
	}
	for name, v := range m.attrs {
		if attributeRequested(name, names) {
			if out.MessageAttributes == nil {
				out.MessageAttributes = map[string]attrValue{}
			}
			out.MessageAttributes[name] = v
		}
	}
	out.MD5OfMessageAttributes = md5OfAttributes(out.MessageAttributes)
	return out
}

// attributeRequested matches a message attribute name against
// MessageAttributeNames.
func attributeRequested(name string, names []string) bool {
	for _, n := range names {
		if n == "All" || n == ".*" || n == name {
			return true
		}
		if prefix, ok := strings.CutSuffix(n, ".*"); ok && strings.HasPrefix(name, prefix+".") {
			return true
		}
	}
	return false
}
