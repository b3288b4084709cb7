package servicebus

import (
	"testing"
	"time"
)

// The stand-in ends when the process that started it does (its standard
// input closes), so a test binary that dies leaves no server behind.
func TestStandInEndsWithItsParent(t *testing.T) {
	s, err := start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the stand-in exited with %v, want a clean exit", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stand-in still runs 10 s after its standard input closed")
	}
}

func TestStopEndsTheProcess(t *testing.T) {
	s := Start(t, Options{})
	s.Stop()
	if s.cmd.ProcessState == nil {
		t.Error("after Stop the process has not been waited for")
	}
	s.Stop() // a second Stop is harmless
}

func TestOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"empty name", Options{Queues: []QueueOptions{{Name: ""}}}},
		{"repeated name", Options{Queues: []QueueOptions{{Name: "a"}, {Name: "A"}}}},
		{"reserved name", Options{Queues: []QueueOptions{{Name: "a/$DeadLetterQueue"}}}},
		{"lock over 5 minutes", Options{Queues: []QueueOptions{{Name: "a", LockDuration: 6 * time.Minute}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.o.config("key"); err == nil {
				t.Errorf("config(%+v) = nil error, want one", tc.o)
			}
		})
	}
}
