package servicebus

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// crossStep is one line crosscheck.js prints.
type crossStep struct {
	Step     string         `json:"step"`
	Error    *string        `json:"error"`
	Message  string         `json:"message"`
	Session  string         `json:"sessionId"`
	Messages []crossMessage `json:"messages"`
	Count    int            `json:"count"`
	Locked   string         `json:"lockedUntil"`
}

type crossMessage struct {
	Body          string         `json:"body"`
	MessageID     string         `json:"messageId"`
	SessionID     string         `json:"sessionId"`
	DeliveryCount int            `json:"deliveryCount"`
	Sequence      int64          `json:"sequenceNumber"`
	Properties    map[string]any `json:"applicationProperties"`
	Reason        *string        `json:"deadLetterReason"`
	Description   *string        `json:"deadLetterErrorDescription"`
}

// Microsoft's JavaScript SDK, a client independent of azservicebus and
// go-amqp, does against the stand-in what stint does with Service Bus.
func TestCrossCheckJavaScriptSDK(t *testing.T) {
	t.Parallel()
	sb := Start(t, Options{Queues: []QueueOptions{{Name: "events", RequiresSession: true}}})
	script, err := ScriptPath("crosscheck.js")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "node", script, sb.ConnectionString(), "events")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	steps := map[string]crossStep{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var s crossStep
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("crosscheck.js printed %q: %v", sc.Text(), err)
		}
		steps[s.Step] = s
	}
	if err != nil || steps["done"].Step == "" {
		t.Fatalf("crosscheck.js: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}

	if s := steps["too-large"]; s.Error == nil || *s.Error != "MessageSizeExceeded" {
		t.Errorf("sending 300 KiB: error %v (%s), want MessageSizeExceeded", s.Error, s.Message)
	}
	if s := steps["accepted"]; s.Session != "js" {
		t.Errorf("acceptNextSession: session %q, want js", s.Session)
	}
	// Three sends and a duplicate of the first (dropped), in session order.
	got := steps["received"].Messages
	if len(got) != 3 || got[0].MessageID != "js-1" || got[1].MessageID != "js-2" || got[2].MessageID != "js-3" {
		t.Fatalf("received %+v, want js-1, js-2, js-3", got)
	}
	if got[0].Body != "one" || got[0].SessionID != "js" || got[0].Properties["n"] != float64(1) || got[0].DeliveryCount != 0 {
		t.Errorf("first message = %+v, want body one, session js, n=1, delivery count 0 (the JavaScript SDK counts from 0)", got[0])
	}
	if !(got[0].Sequence < got[1].Sequence && got[1].Sequence < got[2].Sequence) {
		t.Errorf("sequence numbers %d %d %d, want increasing", got[0].Sequence, got[1].Sequence, got[2].Sequence)
	}
	if r := steps["redelivered"].Messages; len(r) != 1 || r[0].MessageID != "js-2" || r[0].DeliveryCount != 1 {
		t.Errorf("after abandon: %+v, want js-2 with delivery count 1", r)
	}
	if steps["renewed"].Locked <= steps["accepted"].Locked {
		t.Errorf("renewSessionLock: locked until %s, not after %s", steps["renewed"].Locked, steps["accepted"].Locked)
	}
	for _, step := range []string{"peeked", "dlq-received"} {
		m := steps[step].Messages
		if len(m) != 1 || m[0].MessageID != "js-2" || m[0].Reason == nil || *m[0].Reason != "Invalid" ||
			m[0].Description == nil || *m[0].Description != "the event failed validation" {
			t.Errorf("%s (dead-letter queue): %+v, want js-2 with reason Invalid and its description", step, m)
		}
	}
	if n := steps["dlq-after"].Count; n != 0 {
		t.Errorf("dead-letter queue after completing: %d messages, want 0", n)
	}
	if s := steps["no-session"]; s.Error == nil || *s.Error != "ServiceTimeout" {
		t.Errorf("acceptNextSession with no session: error %v (%s), want ServiceTimeout", s.Error, s.Message)
	}
}
