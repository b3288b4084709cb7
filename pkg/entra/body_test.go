package entra_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/stintdev/stint/pkg/entra"
)

// staticToken stands in for the credential: this test is about bodies.
type staticToken struct{}

func (staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "test-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// lateReader is a transport that answers the first attempt 503 while it is
// still reading that attempt's body — as net/http may, when a server
// answers before reading — and records the body of the second attempt.
type lateReader struct {
	mu       sync.Mutex
	attempts int
	second   chan struct{}
	drained  chan struct{}
	got      string
}

func (t *lateReader) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.attempts++
	n := t.attempts
	t.mu.Unlock()
	if n == 1 {
		body := req.Body
		go func() {
			<-t.second
			io.ReadAll(body) // the first attempt's body, read late
			close(t.drained)
		}()
		return &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"0"}}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
	}
	close(t.second)
	<-t.drained
	b, _ := io.ReadAll(req.Body)
	t.got = string(b)
	return &http.Response{StatusCode: 204, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// A retried write carries its whole body even while the transport is still
// reading the failed attempt's (the SDK's retry handler rewinds and resends
// one shared body).
func TestRetriedWriteHasABodyOfItsOwn(t *testing.T) {
	rt := &lateReader{second: make(chan struct{}), drained: make(chan struct{})}
	c, err := entra.New(entra.Config{Endpoint: "https://graph.test", Credential: staticToken{}, Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddMember(context.Background(), "g-1", "u-1"); err != nil {
		t.Fatalf("AddMember: %v", err)
	}
	if want := `"@odata.id":"https://graph.test/v1.0/directoryObjects/u-1"`; !strings.Contains(rt.got, want) {
		t.Errorf("the retried POST carried %q, want a body with %s", rt.got, want)
	}
}
