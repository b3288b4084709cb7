// Package secretsfake is an AWS Secrets Manager endpoint for tests: it
// answers GetSecretValue in the AWS JSON 1.1 protocol (POST / with
// X-Amz-Target: secretsmanager.GetSecretValue and Content-Type
// application/x-amz-json-1.1) on a loopback port, so the real aws-sdk-go-v2
// client (AWS_ENDPOINT_URL_SECRETS_MANAGER = URL()) talks to it unchanged.
// It follows the Secrets Manager API reference, not any client.
//
// # Faithful
//
//   - GetSecretValue by ARN or by name: ARN, Name, SecretString, VersionId,
//     VersionStages ["AWSCURRENT"] and CreatedDate (epoch seconds).
//   - Errors: HTTP 400 with {"__type":"<Code>","message":…}, which the SDK
//     surfaces as its typed errors and ErrorCode(): ResourceNotFoundException
//     ("Secrets Manager can't find the specified secret."), and
//     AccessDeniedException for a secret Deny names, worded as IAM words a
//     missing identity-based permission.
//   - Requests must be signed with AWS Signature Version 4 for the
//     secretsmanager service (the Authorization header's credential scope);
//     an unsigned one is refused (MissingAuthenticationToken).
//
// # Simplified
//
//   - The signature itself is not verified. One account (000000000000) and
//     region (us-east-1); the ARN is made from the name with a fixed
//     six-character suffix (-AbCdEf).
//   - Only GetSecretValue; other targets answer UnknownOperationException.
//     No versions beyond the current one (VersionId and VersionStage in the
//     request are ignored), no binary secrets, no KMS, no resource policies,
//     no rotation, no deletion.
package secretsfake

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Server is a Secrets Manager endpoint on a loopback port.
type Server struct {
	srv  *http.Server
	base string

	mu      sync.Mutex
	secrets map[string]secret // by ARN
	denied  map[string]bool   // ARNs the caller may not read
	reads   []string          // the SecretId of every GetSecretValue
	created time.Time
}

// NewServer starts a server on 127.0.0.1 and a free port.
func NewServer() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("secretsfake: listen: %w", err)
	}
	s := &Server{base: "http://" + ln.Addr().String(), secrets: map[string]secret{}, denied: map[string]bool{}, created: time.Now()}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close.
	return s, nil
}

// URL is "http://127.0.0.1:PORT", the value for
// AWS_ENDPOINT_URL_SECRETS_MANAGER.
func (s *Server) URL() string { return s.base }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Put stores value as the secret name and returns its ARN.
func (s *Server) Put(name, value string) string {
	arn := ARN(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[arn] = secret{name: name, value: value}
	return arn
}

// secret is one stored secret.
type secret struct{ name, value string }

// Deny makes reads of the secret arn names fail with AccessDeniedException,
// as when the caller's role lacks secretsmanager:GetSecretValue on it.
func (s *Server) Deny(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[arn] = true
}

// Reads lists the SecretId of every GetSecretValue request, in order.
func (s *Server) Reads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.reads...)
}

// ARN is the ARN the server gives the secret name.
func ARN(name string) string {
	return "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + name + "-AbCdEf"
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		writeErr(w, http.StatusNotFound, "UnknownOperationException", "want POST /")
	case !strings.Contains(r.Header.Get("Authorization"), "/secretsmanager/aws4_request"):
		writeErr(w, http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token")
	case target != "secretsmanager.GetSecretValue":
		writeErr(w, http.StatusBadRequest, "UnknownOperationException", "unsupported target "+target)
	default:
		s.getSecretValue(w, r)
	}
}

func (s *Server) getSecretValue(w http.ResponseWriter, r *http.Request) {
	var in struct{ SecretId string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.SecretId == "" {
		writeErr(w, http.StatusBadRequest, "InvalidParameterException", "SecretId is required")
		return
	}
	s.mu.Lock()
	s.reads = append(s.reads, in.SecretId)
	arn := in.SecretId
	if !strings.HasPrefix(arn, "arn:") {
		arn = ARN(arn)
	}
	sec, ok := s.secrets[arn]
	denied := s.denied[arn]
	s.mu.Unlock()
	switch {
	case denied:
		writeErr(w, http.StatusBadRequest, "AccessDeniedException", "User: arn:aws:sts::000000000000:assumed-role/stint-webhook/stint-webhook is not authorized to perform: secretsmanager:GetSecretValue on resource: "+in.SecretId+" because no identity-based policy allows the secretsmanager:GetSecretValue action")
		return
	case !ok:
		writeErr(w, http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(map[string]any{ //nolint:errcheck // client went away
		"ARN": arn, "Name": sec.name, "SecretString": sec.value, "VersionId": "00000000-0000-4000-8000-000000000001",
		"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(s.created.Unix()),
	})
}

// writeErr sends an error in the JSON 1.1 protocol.
func writeErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg}) //nolint:errcheck // client went away
}
