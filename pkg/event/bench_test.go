package event_test

import (
	"testing"

	"github.com/stintdev/stint/pkg/event"
)

// BenchmarkParse measures parsing and validating a typical started event.
func BenchmarkParse(b *testing.B) {
	body := mustRead(b, "valid/started-future.json")
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := event.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
