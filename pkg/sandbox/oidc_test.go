package sandbox

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// oidcIssuer is an OpenID Connect issuer over TLS: a discovery document,
// a JWKS of the keys it publishes, and counts of the fetches.
type oidcIssuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	pub     map[string]*rsa.PublicKey // kid → key
	fetches int
	down    bool
}

func newOIDCIssuer(tb testing.TB) *oidcIssuer {
	tb.Helper()
	o := &oidcIssuer{pub: map[string]*rsa.PublicKey{}}
	o.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		defer o.mu.Unlock()
		switch {
		case o.down:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case r.URL.Path == "/.well-known/openid-configuration":
			o.fetches++
			writeJSON(w, 200, map[string]any{"issuer": o.srv.URL, "jwks_uri": o.srv.URL + "/.well-known/jwks.json"})
		case r.URL.Path == "/.well-known/jwks.json":
			var keys []any
			for kid, k := range o.pub {
				keys = append(keys, map[string]any{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
					"n": b64.EncodeToString(k.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
			}
			writeJSON(w, 200, map[string]any{"keys": keys})
		default:
			http.NotFound(w, r)
		}
	}))
	tb.Cleanup(o.srv.Close)
	return o
}

// publish adds a new key under kid and returns its private half.
func (o *oidcIssuer) publish(tb testing.TB, kid string) *rsa.PrivateKey {
	tb.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.pub[kid] = &k.PublicKey
	return k
}

func (o *oidcIssuer) discoveries() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fetches
}

// A federated credential without a Key is checked against the issuer's
// keys found by OpenID Connect discovery; the keys are cached, and an
// unknown kid makes the sandbox fetch them again once.
func TestFederatedAssertionByDiscovery(t *testing.T) {
	iss := newOIDCIssuer(t)
	ten := New(Options{HTTPClient: iss.srv.Client()})
	ten.AddApp(App{ClientID: testAppID, Permissions: []string{"User.Read.All"}})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	f := &fixture{ten: ten, srv: srv, client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ten.CAPool()}}}}
	const fedApp = "fed00000-0000-4000-8000-000000000003"
	const subject, audience = "arn:aws:iam::123456789012:role/stint-worker", "api://AzureADTokenExchange"
	ten.AddApp(App{ClientID: fedApp, Permissions: []string{"User.Read.All"},
		Federated: []FederatedCredential{{Issuer: iss.srv.URL, Subject: subject, Audience: audience}}})
	k1 := iss.publish(t, "k1")
	stranger, _ := rsa.GenerateKey(rand.Reader, 2048)

	type claims = map[string]any
	assertion := func(key *rsa.PrivateKey, kid string, c claims) string {
		now := time.Now()
		all := claims{"iss": iss.srv.URL, "sub": subject, "aud": audience, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": newGUID()}
		for k, v := range c {
			all[k] = v
		}
		return signJWT(t, "RS256", key, map[string]any{"kid": kid}, all)
	}
	present := func(t *testing.T, a string) resp {
		t.Helper()
		return f.postForm(t, "/"+ten.TenantID()+"/oauth2/v2.0/token", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {fedApp}, "scope": {srv.URL + "/.default"},
			"client_assertion_type": {jwtBearer}, "client_assertion": {a}})
	}
	refused := func(t *testing.T, r resp, code, text string) {
		t.Helper()
		wantStatus(t, r, http.StatusUnauthorized)
		if d := r.str("error_description"); !strings.HasPrefix(d, code) || !strings.Contains(d, text) {
			t.Errorf("error_description = %q, want %s … %q", d, code, text)
		}
	}

	t.Run("matching assertion", func(t *testing.T) {
		wantStatus(t, present(t, assertion(k1, "k1", nil)), http.StatusOK)
		wantStatus(t, present(t, assertion(k1, "k1", nil)), http.StatusOK)
		if got := iss.discoveries(); got != 1 {
			t.Errorf("discovery fetched %d times, want 1 (keys cached)", got)
		}
	})
	t.Run("other subject", func(t *testing.T) {
		refused(t, present(t, assertion(k1, "k1", claims{"sub": "arn:aws:iam::123456789012:role/other"})), "AADSTS700213", "role/other")
	})
	t.Run("other audience", func(t *testing.T) {
		refused(t, present(t, assertion(k1, "k1", claims{"aud": "sts.amazonaws.com"})), "AADSTS700212", "sts.amazonaws.com")
	})
	t.Run("expired", func(t *testing.T) {
		old := time.Now().Add(-time.Hour)
		refused(t, present(t, assertion(k1, "k1", claims{"iat": old.Unix(), "exp": old.Add(5 * time.Minute).Unix()})), "AADSTS700024", "valid time range")
	})
	t.Run("signed by another key under a published kid", func(t *testing.T) {
		refused(t, present(t, assertion(stranger, "k1", nil)), "AADSTS700027", "did not match")
	})
	t.Run("rotated key is fetched once", func(t *testing.T) {
		before := iss.discoveries()
		k2 := iss.publish(t, "k2")
		wantStatus(t, present(t, assertion(k2, "k2", nil)), http.StatusOK)
		if got := iss.discoveries() - before; got != 1 {
			t.Errorf("discovery fetched %d times for a new kid, want 1", got)
		}
	})
	t.Run("unknown kid", func(t *testing.T) {
		before := iss.discoveries()
		refused(t, present(t, assertion(stranger, "nobody", nil)), "AADSTS700027", "The key was not found.")
		if got := iss.discoveries() - before; got != 1 {
			t.Errorf("discovery fetched %d times for an unknown kid, want 1", got)
		}
	})
	t.Run("issuer unreachable", func(t *testing.T) {
		iss.mu.Lock()
		iss.down = true
		iss.mu.Unlock()
		r := present(t, assertion(stranger, "k3", nil))
		wantStatus(t, r, http.StatusBadRequest)
		if d := r.str("error_description"); !strings.HasPrefix(d, "AADSTS50166: Request to External OIDC endpoint failed.") {
			t.Errorf("error_description = %q, want AADSTS50166", d)
		}
	})
}

// EC P-256 keys in a JWKS decode to the key that verifies ES256.
func TestJWKPublicKeyEC(t *testing.T) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := k.PublicKey.Bytes() // 0x04 || X || Y
	pub := jwkPublicKey("EC", "P-256", "", "", b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:]))
	if got, ok := pub.(*ecdsa.PublicKey); !ok || !got.Equal(&k.PublicKey) {
		t.Errorf("jwkPublicKey = %v, want the P-256 key", pub)
	}
	if pub := jwkPublicKey("EC", "P-384", "", "", b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:])); pub != nil {
		t.Errorf("jwkPublicKey(P-384) = %v, want nil (not supported)", pub)
	}
}
