package sqsfake

import (
	"slices"
	"time"
)

func (s *Server) opReceiveMessage(c *call) (any, *apiError) {
	var in struct {
		QueueUrl                    string
		AttributeNames              []string
		MessageSystemAttributeNames []string
		MessageAttributeNames       []string
		MaxNumberOfMessages         *int
		VisibilityTimeout           *int
		WaitTimeSeconds             *int
	}
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	max := 1
	if in.MaxNumberOfMessages != nil {
		max = *in.MaxNumberOfMessages
		if max < 1 || max > 10 {
			return nil, errInvalidParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", max)
		}
	}
	if in.WaitTimeSeconds != nil && (*in.WaitTimeSeconds < 0 || *in.WaitTimeSeconds > 20) {
		return nil, errInvalidParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *in.WaitTimeSeconds)
	}
	if in.VisibilityTimeout != nil && (*in.VisibilityTimeout < 0 || *in.VisibilityTimeout > 43200) {
		return nil, errInvalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.", *in.VisibilityTimeout)
	}
	sys := slices.Concat(in.AttributeNames, in.MessageSystemAttributeNames)

	s.mu.Lock()
	q, err := s.queueFromURL(in.QueueUrl)
	if err != nil {
		s.mu.Unlock()
		return nil, err
	}
	visibility, wait := q.cfg.visibility, q.cfg.wait
	if in.VisibilityTimeout != nil {
		visibility = time.Duration(*in.VisibilityTimeout) * time.Second
	}
	if in.WaitTimeSeconds != nil {
		wait = time.Duration(*in.WaitTimeSeconds) * time.Second
	}
	s.mu.Unlock()

	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		if s.queues[q.name] != q {
			s.mu.Unlock()
			return nil, errQueueDoesNotExist()
		}
		now := time.Now()
		got := s.receive(q, max, visibility, now)
		if len(got) > 0 || !now.Before(deadline) {
			out := struct {
				Messages []messageOut `json:"Messages,omitempty"`
			}{}
			for _, m := range got {
				out.Messages = append(out.Messages, render(m, q.cfg.fifo, sys, in.MessageAttributeNames))
			}
			s.mu.Unlock()
			return out, nil
		}
		wake := deadline
		if next := q.nextWake(now); !next.IsZero() && next.Before(wake) {
			wake = next
		}
		changed := s.changed
		s.mu.Unlock()

		timer := time.NewTimer(time.Until(wake))
		select {
		case <-changed:
		case <-timer.C:
		case <-c.ctx.Done():
			timer.Stop()
			return nil, errSerialization("request cancelled")
		case <-s.closed:
			timer.Stop()
			return nil, errUnavailable()
		}
		timer.Stop()
	}
}

func (s *Server) opDeleteMessage(c *call) (any, *apiError) {
	var in struct {
		QueueUrl      string
		ReceiptHandle string
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
	if in.ReceiptHandle == "" {
		return nil, errMissingParameter("ReceiptHandle")
	}
	if err := s.deleteMessage(q, in.ReceiptHandle, time.Now()); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// batchIDOutput is a successful DeleteMessageBatch or
// ChangeMessageVisibilityBatch entry.
type batchIDOutput struct {
	Id string `json:"Id"`
}

// batchResult is the answer of DeleteMessageBatch and
// ChangeMessageVisibilityBatch.
type batchResult struct {
	Successful []batchIDOutput `json:"Successful"`
	Failed     []batchError    `json:"Failed"`
}

// receiptEntry is a DeleteMessageBatch or ChangeMessageVisibilityBatch entry.
type receiptEntry struct {
	Id                string
	ReceiptHandle     string
	VisibilityTimeout int
}

// receiptBatch applies do to each entry of a receipt-handle batch.
func (s *Server) receiptBatch(c *call, do func(q *queue, e receiptEntry, now time.Time) *apiError) (any, *apiError) {
	var in struct {
		QueueUrl string
		Entries  []receiptEntry
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
	ids := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		ids[i] = e.Id
	}
	if err := checkBatchIDs(ids); err != nil {
		return nil, err
	}
	out := batchResult{Successful: []batchIDOutput{}, Failed: []batchError{}}
	now := time.Now()
	for _, e := range in.Entries {
		if e.ReceiptHandle == "" {
			out.Failed = append(out.Failed, entryError(e.Id, errMissingParameter("ReceiptHandle")))
			continue
		}
		if err := do(q, e, now); err != nil {
			out.Failed = append(out.Failed, entryError(e.Id, err))
			continue
		}
		out.Successful = append(out.Successful, batchIDOutput{Id: e.Id})
	}
	return out, nil
}

func (s *Server) opDeleteMessageBatch(c *call) (any, *apiError) {
	return s.receiptBatch(c, func(q *queue, e receiptEntry, now time.Time) *apiError {
		return s.deleteMessage(q, e.ReceiptHandle, now)
	})
}

func (s *Server) opChangeMessageVisibility(c *call) (any, *apiError) {
	var in struct {
		QueueUrl          string
		ReceiptHandle     string
		VisibilityTimeout *int
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
	switch {
	case in.ReceiptHandle == "":
		return nil, errMissingParameter("ReceiptHandle")
	case in.VisibilityTimeout == nil:
		return nil, errMissingParameter("VisibilityTimeout")
	}
	if err := s.changeVisibility(q, in.ReceiptHandle, time.Duration(*in.VisibilityTimeout)*time.Second, time.Now()); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Server) opChangeMessageVisibilityBatch(c *call) (any, *apiError) {
	return s.receiptBatch(c, func(q *queue, e receiptEntry, now time.Time) *apiError {
		return s.changeVisibility(q, e.ReceiptHandle, time.Duration(e.VisibilityTimeout)*time.Second, now)
	})
}
