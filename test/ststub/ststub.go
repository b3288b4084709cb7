// Package ststub is a stand-in for AWS STS's GetWebIdentityToken (IAM
// outbound identity federation) and for the issuer it makes of an AWS
// account, for tests: an HTTPS server that answers the AWS query protocol
// and serves the issuer's OpenID Connect discovery document and keys, so
// that the real aws-sdk-go-v2 client asks it for tokens and the sandbox
// tenant verifies them the way Entra does.
//
//	s, err := ststub.Start()
//	s.AddRole("AKIDWORKER", "arn:aws:iam::123456789012:role/stint-worker")
//	// AWS_ENDPOINT_URL_STS=s.URL(), AWS_ACCESS_KEY_ID=AKIDWORKER,
//	// trust s.CertPEM(); the issuer is s.Issuer().
//
// # Faithful
//
//   - The query protocol: POST /, application/x-www-form-urlencoded,
//     Action=GetWebIdentityToken, Version=2011-06-15, Audience.member.N,
//     SigningAlgorithm, DurationSeconds (60–3600, default 300); the answer
//     is GetWebIdentityTokenResponse / GetWebIdentityTokenResult with
//     WebIdentityToken and Expiration (ISO 8601, UTC), and
//     ResponseMetadata/RequestId; errors are ErrorResponse/Error with
//     Type, Code and Message, and RequestId, with the x-amzn-RequestId
//     header.
//   - Tokens are RS256 JWTs with kid, claims iss (Issuer()), sub (the
//     calling role's ARN, not the session's), aud (a string for one
//     audience, else an array), iat, nbf, exp and jti.
//   - The issuer serves /.well-known/openid-configuration (issuer,
//     jwks_uri) and /.well-known/jwks.json, as the IssuerIdentifier of
//     EnableOutboundWebIdentityFederation does.
//   - Refusals: MissingAuthenticationToken without a SigV4 Authorization,
//     InvalidClientTokenId for an access key that names no role,
//     AccessDenied for a role not allowed sts:GetWebIdentityToken,
//     OutboundWebIdentityFederationDisabledException when the account has
//     not enabled it, ValidationError for a bad parameter.
//
// # Simplified
//
//   - The SigV4 Authorization header is checked for its form (algorithm,
//     Credential=<key>/<date>/<region>/sts/aws4_request, SignedHeaders,
//     Signature) and X-Amz-Date, but the signature is not recomputed:
//     the stand-in knows access keys, not secrets.
//   - Only RS256 is signed; ES384 answers ValidationError. Tags are
//     accepted and ignored, as are the custom claims AWS adds
//     (https://sts.amazonaws.com/ with the account and the principal).
//   - The issuer is the server's own URL (https://127.0.0.1:port), not
//     https://<id>.tokens.sts.global.api.aws; one account, one key, no
//     rotation but RotateKey.
package ststub

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stintdev/stint/test/oidcissuer"
)

// Server is the stand-in: an STS endpoint and the account's issuer.
type Server struct {
	srv *httptest.Server

	keys *oidcissuer.Keys

	mu       sync.Mutex
	roles    map[string]string // access key id → role ARN
	denied   map[string]bool   // role ARN → no sts:GetWebIdentityToken
	disabled bool
	issued   int
}

// Start serves the stand-in on a loopback port over TLS, with outbound
// identity federation enabled.
func Start() (*Server, error) {
	keys, err := oidcissuer.New()
	if err != nil {
		return nil, err
	}
	s := &Server{keys: keys, roles: map[string]string{}, denied: map[string]bool{}}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s, nil
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// URL is the STS endpoint (AWS_ENDPOINT_URL_STS).
func (s *Server) URL() string { return s.srv.URL }

// Issuer is the account's issuer URL: the iss of every token.
func (s *Server) Issuer() string { return s.srv.URL }

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// CertPEM is the server's certificate, to trust (SSL_CERT_FILE).
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// AddRole makes accessKeyID a credential of the role roleARN, allowed
// sts:GetWebIdentityToken.
func (s *Server) AddRole(accessKeyID, roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[accessKeyID] = roleARN
}

// Deny takes sts:GetWebIdentityToken away from roleARN.
func (s *Server) Deny(roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[roleARN] = true
}

// SetFederation enables or disables the account's outbound identity
// federation.
func (s *Server) SetFederation(enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.disabled = !enabled
}

// Issued counts the tokens minted.
func (s *Server) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// RotateKey replaces the signing key; the old one is no longer published.
func (s *Server) RotateKey() error { return s.keys.Rotate() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/.well-known/"):
		s.keys.Discovery(s.Issuer())(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/":
		s.query(w, r)
	default:
		http.NotFound(w, r)
	}
}

// apiError is an STS error answer.
type apiError struct {
	status    int
	typ, code string
	message   string
}

func (e *apiError) write(w http.ResponseWriter, requestID string) {
	type errBody struct {
		Type    string
		Code    string
		Message string
	}
	body := struct {
		XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
		Error     errBody
		RequestId string
	}{Error: errBody{e.typ, e.code, e.message}, RequestId: requestID}
	writeXML(w, e.status, requestID, body)
}

func sender(status int, code, format string, args ...any) *apiError {
	return &apiError{status, "Sender", code, fmt.Sprintf(format, args...)}
}

// query answers one query-protocol request.
func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	requestID := newUUID()
	if err := r.ParseForm(); err != nil {
		sender(400, "MalformedQueryString", "%v", err).write(w, requestID)
		return
	}
	out, e := s.getWebIdentityToken(r)
	if e != nil {
		e.write(w, requestID)
		return
	}
	type result struct {
		WebIdentityToken string
		Expiration       string
	}
	writeXML(w, http.StatusOK, requestID, struct {
		XMLName                   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetWebIdentityTokenResponse"`
		GetWebIdentityTokenResult result
		ResponseMetadata          struct{ RequestId string }
	}{GetWebIdentityTokenResult: result{out.token, out.expires.UTC().Format(time.RFC3339)},
		ResponseMetadata: struct{ RequestId string }{requestID}})
}

type minted struct {
	token   string
	expires time.Time
}

// sigV4 is the form of a SigV4 Authorization header for STS.
var sigV4 = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)/(\d{8})/([a-z0-9-]+)/sts/aws4_request, ?SignedHeaders=[a-z0-9;-]+, ?Signature=[0-9a-f]{64}$`)

func (s *Server) getWebIdentityToken(r *http.Request) (*minted, *apiError) {
	f := r.PostForm
	if a := f.Get("Action"); a != "GetWebIdentityToken" {
		return nil, sender(400, "InvalidAction", "Could not find operation %s for version %s", a, f.Get("Version"))
	}
	if v := f.Get("Version"); v != "2011-06-15" {
		return nil, sender(400, "InvalidAction", "Could not find operation GetWebIdentityToken for version %s", v)
	}
	m := sigV4.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || r.Header.Get("X-Amz-Date") == "" {
		return nil, sender(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	role, ok := s.roles[m[1]]
	if !ok {
		return nil, sender(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if s.disabled {
		return nil, sender(403, "OutboundWebIdentityFederationDisabledException", "Outbound web identity federation is disabled for this account.")
	}
	if s.denied[role] {
		return nil, sender(403, "AccessDenied", "User: %s is not authorized to perform: sts:GetWebIdentityToken because no identity-based policy allows the sts:GetWebIdentityToken action", role)
	}
	var aud []string
	for i := 1; f.Has("Audience.member." + strconv.Itoa(i)); i++ {
		aud = append(aud, f.Get("Audience.member."+strconv.Itoa(i)))
	}
	if len(aud) == 0 {
		return nil, sender(400, "ValidationError", "1 validation error detected: Value null at 'audience' failed to satisfy constraint: Member must not be null")
	}
	switch alg := f.Get("SigningAlgorithm"); alg {
	case "RS256":
	case "ES384":
		return nil, sender(400, "ValidationError", "the STS stand-in signs only RS256")
	default:
		return nil, sender(400, "ValidationError", "1 validation error detected: Value '%s' at 'signingAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [RS256, ES384]", alg)
	}
	lifetime := 300
	if d := f.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 60 || n > 3600 {
			return nil, sender(400, "ValidationError", "1 validation error detected: Value '%s' at 'durationSeconds' failed to satisfy constraint: Member must have value between 60 and 3600", d)
		}
		lifetime = n
	}
	now := time.Now().Truncate(time.Second)
	exp := now.Add(time.Duration(lifetime) * time.Second)
	claims := map[string]any{"iss": s.Issuer(), "sub": role, "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix(), "jti": newUUID()}
	if len(aud) == 1 {
		claims["aud"] = aud[0]
	} else {
		claims["aud"] = aud
	}
	tok, err := s.keys.Sign(claims)
	if err != nil {
		return nil, &apiError{500, "Receiver", "InternalFailure", err.Error()}
	}
	s.issued++
	return &minted{tok, exp}, nil
}

func writeXML(w http.ResponseWriter, status int, requestID string, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amzn-RequestId", requestID)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// newUUID returns a random version-4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
