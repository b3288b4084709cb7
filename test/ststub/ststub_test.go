package ststub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/stintdev/stint/test/ststub"
)

const role = "arn:aws:iam::123456789012:role/stint-worker"

func start(tb testing.TB) *ststub.Server {
	tb.Helper()
	s, err := ststub.Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	s.AddRole("AKIAWORKER", role)
	return s
}

func client(s *ststub.Server, key string) *sts.Client {
	return sts.New(sts.Options{Region: "eu-west-1", BaseEndpoint: aws.String(s.URL()), HTTPClient: s.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(key, "secret", "")})
}

func input() *sts.GetWebIdentityTokenInput {
	return &sts.GetWebIdentityTokenInput{Audience: []string{"api://AzureADTokenExchange"}, SigningAlgorithm: aws.String("RS256"), DurationSeconds: aws.Int32(600)}
}

// The SDK's own client reads the stand-in's answer: a JWT for the caller's
// role, from the stand-in's issuer, for the audience asked.
func TestGetWebIdentityToken(t *testing.T) {
	s := start(t)
	before := time.Now().Truncate(time.Second)
	out, err := client(s, "AKIAWORKER").GetWebIdentityToken(context.Background(), input())
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(aws.ToString(out.WebIdentityToken), ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	var claims struct {
		Iss, Sub, Aud, Jti string
		Exp, Iat           int64
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.Iss != s.Issuer() || claims.Sub != role || claims.Aud != "api://AzureADTokenExchange" || claims.Jti == "" {
		t.Errorf("claims = %+v, want iss %s, sub %s, the audience and a jti", claims, s.Issuer(), role)
	}
	if got := out.Expiration; got == nil || got.Unix() != claims.Exp || claims.Exp-claims.Iat != 600 || got.Before(before.Add(600*time.Second)) {
		t.Errorf("Expiration = %v, exp-iat = %d; want iat+600 s", got, claims.Exp-claims.Iat)
	}
	// The issuer's discovery document names its JWKS.
	resp, err := s.Client().Get(s.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Issuer  string
		JWKSURI string `json:"jwks_uri"`
	}
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &doc)
	if doc.Issuer != s.Issuer() || doc.JWKSURI != s.Issuer()+"/.well-known/jwks.json" {
		t.Errorf("discovery = %s", body)
	}
}

// Refusals carry the codes AWS uses, as the SDK parses them.
func TestRefusals(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		setup func(*ststub.Server)
		in    func(*sts.GetWebIdentityTokenInput)
		code  string
	}{
		{name: "unknown access key", key: "AKIANOBODY", code: "InvalidClientTokenId"},
		{name: "federation disabled", key: "AKIAWORKER", setup: func(s *ststub.Server) { s.SetFederation(false) }, code: "OutboundWebIdentityFederationDisabledException"},
		{name: "role not allowed", key: "AKIAWORKER", setup: func(s *ststub.Server) { s.Deny(role) }, code: "AccessDenied"},
		{name: "duration too long", key: "AKIAWORKER", in: func(in *sts.GetWebIdentityTokenInput) { in.DurationSeconds = aws.Int32(3601) }, code: "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			in := input()
			if tt.in != nil {
				tt.in(in)
			}
			_, err := client(s, tt.key).GetWebIdentityToken(context.Background(), in)
			var api smithy.APIError
			if !errors.As(err, &api) || api.ErrorCode() != tt.code {
				t.Errorf("error = %v, want code %s", err, tt.code)
			}
		})
	}
	t.Run("unsigned request", func(t *testing.T) {
		s := start(t)
		resp, err := s.Client().PostForm(s.URL(), url.Values{"Action": {"GetWebIdentityToken"}, "Version": {"2011-06-15"},
			"Audience.member.1": {"a"}, "SigningAlgorithm": {"RS256"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>MissingAuthenticationToken</Code>") {
			t.Errorf("unsigned request = %d %s, want 403 MissingAuthenticationToken", resp.StatusCode, body)
		}
	})
}
