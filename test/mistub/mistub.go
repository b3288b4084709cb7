// Package mistub is a stand-in, for tests, for the managed identity
// endpoint Azure gives an App Service or Container Apps app, and for the
// issuer of that identity's tokens: the real azidentity
// ManagedIdentityCredential asks it for tokens, and the sandbox tenant
// verifies them, through the app's federated identity credential, the way
// Entra does.
//
//	s, err := mistub.Start()
//	s.AddIdentity(clientID, principalID)  // a user-assigned identity
//	// the host's environment: s.Env(); the sandbox trusts s.Issuer()
//	// through s.Client().
//
// # Faithful
//
//   - The protocol azidentity speaks when IDENTITY_ENDPOINT and
//     IDENTITY_HEADER are set (App Service and Container Apps, API version
//     2019-08-01): GET on the endpoint with api-version, resource and,
//     for a user-assigned identity, client_id, object_id or mi_res_id, and
//     the X-IDENTITY-HEADER header; the answer is JSON with access_token,
//     expires_on (Unix seconds, as a string), resource, token_type Bearer
//     and client_id.
//   - The endpoint is plain HTTP on loopback, as on the platform; without
//     client_id (or another id) the system-assigned identity answers, and
//     there may be none.
//   - Tokens are RS256 JWTs with kid, iss (Issuer()), sub and oid (the
//     identity's principal id: the subject of the app's federated
//     credential), aud (the resource asked for), appid (its client id),
//     iat, nbf and exp (24 hours).
//
// # Simplified
//
//   - In Azure the token is issued by Entra itself, whose issuer is
//     https://login.microsoftonline.com/<tenant>/v2.0; here it is the
//     stand-in's own HTTPS URL, which serves its OpenID Connect discovery
//     document and keys (test/oidcissuer).
//   - Refusals are 400 (an unknown identity or parameter) or 401 (a wrong
//     X-IDENTITY-HEADER) with a JSON body {"statusCode", "message"}; the
//     platform's wording may differ.
//   - The identity ids are the caller's business: any resource is granted.
package mistub

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/stintdev/stint/test/oidcissuer"
)

// APIVersion is the identity endpoint's version azidentity asks for.
const APIVersion = "2019-08-01"

// tokenLifetime is what the platform gives a managed identity's token.
const tokenLifetime = 24 * time.Hour

// Server is the stand-in: an identity endpoint and its tokens' issuer.
type Server struct {
	endpoint *httptest.Server // plain HTTP, as the platform's
	issuer   *httptest.Server // HTTPS, for discovery
	keys     *oidcissuer.Keys
	header   string

	mu     sync.Mutex
	users  map[string]string // client id → principal id
	system string            // the system-assigned identity's principal id
	issued map[[2]string]int // client id, resource → tokens given
}

// Start serves the endpoint and the issuer on loopback ports.
func Start() (*Server, error) {
	keys, err := oidcissuer.New()
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	s := &Server{keys: keys, header: hex.EncodeToString(secret), users: map[string]string{}, issued: map[[2]string]int{}}
	s.endpoint = httptest.NewServer(http.HandlerFunc(s.token))
	s.issuer = httptest.NewUnstartedServer(nil)
	s.issuer.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.keys.Discovery(s.Issuer())(w, r)
	})
	s.issuer.StartTLS()
	return s, nil
}

// Close stops both servers.
func (s *Server) Close() {
	s.endpoint.Close()
	s.issuer.Close()
}

// Env is what the platform puts in the app's environment.
func (s *Server) Env() []string {
	return []string{"IDENTITY_ENDPOINT=" + s.endpoint.URL + "/msi/token", "IDENTITY_HEADER=" + s.header}
}

// Issuer is the iss of every token.
func (s *Server) Issuer() string { return s.issuer.URL }

// Client trusts the issuer's certificate (the sandbox's discovery client).
func (s *Server) Client() *http.Client { return s.issuer.Client() }

// CertPEM is the issuer's certificate.
func (s *Server) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.issuer.Certificate().Raw})
}

// AddIdentity assigns the user-assigned identity clientID, whose
// principal (object) id is principalID, to the app.
func (s *Server) AddIdentity(clientID, principalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[clientID] = principalID
}

// RemoveIdentity unassigns it.
func (s *Server) RemoveIdentity(clientID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, clientID)
}

// SetSystemAssigned gives the app a system-assigned identity ("" for none).
func (s *Server) SetSystemAssigned(principalID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.system = principalID
}

// Issued counts the tokens given.
func (s *Server) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.issued {
		n += c
	}
	return n
}

// IssuedFor counts the tokens given to the identity clientID for resource.
func (s *Server) IssuedFor(clientID, resource string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued[[2]string{clientID, resource}]
}

func refuse(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "message": message})
}

// token answers one token request.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method != http.MethodGet || r.URL.Path != "/msi/token":
		http.NotFound(w, r)
		return
	case r.Header.Get("X-IDENTITY-HEADER") != s.header:
		refuse(w, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
		return
	case q.Get("api-version") != APIVersion:
		refuse(w, http.StatusBadRequest, "The api-version "+strconv.Quote(q.Get("api-version"))+" is not supported; use "+APIVersion+".")
		return
	case q.Get("resource") == "":
		refuse(w, http.StatusBadRequest, "The resource parameter is required.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	clientID, principal := q.Get("client_id"), ""
	switch {
	case clientID != "":
		principal = s.users[clientID]
	case q.Get("object_id") != "":
		for c, p := range s.users {
			if p == q.Get("object_id") {
				clientID, principal = c, p
			}
		}
	case q.Get("mi_res_id") != "":
		// Resource ids are not modelled: none matches.
	default:
		principal, clientID = s.system, "system-assigned"
	}
	if principal == "" {
		refuse(w, http.StatusBadRequest, "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}
	now := time.Now().Truncate(time.Second)
	exp := now.Add(tokenLifetime)
	tok, err := s.keys.Sign(map[string]any{"iss": s.Issuer(), "sub": principal, "oid": principal, "aud": q.Get("resource"),
		"appid": clientID, "iat": now.Unix(), "nbf": now.Unix(), "exp": exp.Unix()})
	if err != nil {
		refuse(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.issued[[2]string{clientID, q.Get("resource")}]++
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10),
		"resource": q.Get("resource"), "token_type": "Bearer", "client_id": clientID})
}
