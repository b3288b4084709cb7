package entra

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// fakeSTS answers GetWebIdentityToken with tokens valid for lifetime.
type fakeSTS struct {
	now   func() time.Time
	calls int
	in    *sts.GetWebIdentityTokenInput
}

func (f *fakeSTS) GetWebIdentityToken(_ context.Context, in *sts.GetWebIdentityTokenInput, _ ...func(*sts.Options)) (*sts.GetWebIdentityTokenOutput, error) {
	f.calls++
	f.in = in
	exp := f.now().Add(time.Duration(*in.DurationSeconds) * time.Second)
	return &sts.GetWebIdentityTokenOutput{WebIdentityToken: aws.String("h.e30.s"), Expiration: &exp}, nil
}

var _ WebIdentityTokenAPI = (*fakeSTS)(nil)

// The assertion is reused until five minutes before it expires, and asked
// for with Entra's audience and RS256.
func TestAssertionReuse(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	api := &fakeSTS{now: clock}
	w := &webIdentity{api: api, now: clock}
	tests := []struct {
		after     time.Duration
		wantCalls int
	}{
		{0, 1},
		{awsTokenLifetime - awsReuseMargin - time.Second, 1},
		{awsTokenLifetime - awsReuseMargin, 2},
	}
	start := now
	for _, tt := range tests {
		now = start.Add(tt.after)
		if _, err := w.assertion(context.Background()); err != nil {
			t.Fatal(err)
		}
		if api.calls != tt.wantCalls {
			t.Errorf("after %v: STS called %d times, want %d", tt.after, api.calls, tt.wantCalls)
		}
	}
	if got := api.in.Audience; len(got) != 1 || got[0] != ExchangeAudience || *api.in.SigningAlgorithm != "RS256" {
		t.Errorf("asked for audience %v, algorithm %s; want [%s], RS256", got, *api.in.SigningAlgorithm, ExchangeAudience)
	}
}
