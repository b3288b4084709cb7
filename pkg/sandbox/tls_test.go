package sandbox

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartTLSIsVerifiedWithTheTenantCA(t *testing.T) {
	ten := New(Options{})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Errorf("URL = %q", srv.URL)
	}
	fromPEM := x509.NewCertPool()
	if !fromPEM.AppendCertsFromPEM(srv.CAPEM) {
		t.Fatal("CAPEM holds no certificate")
	}
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	tests := []struct {
		name  string
		pool  *x509.CertPool
		url   string
		trust bool
	}{
		{"CAPool", ten.CAPool(), srv.URL, true},
		{"CAPEM", fromPEM, srv.URL, true},
		{"localhost name", ten.CAPool(), "https://localhost" + port, true},
		{"another tenant's CA", New(Options{}).CAPool(), srv.URL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tt.pool}}}
			res, err := c.Get(tt.url + "/common/discovery/instance?api-version=1.1")
			if err == nil {
				res.Body.Close()
			}
			if (err == nil) != tt.trust {
				t.Errorf("err = %v, want trusted=%v", err, tt.trust)
			}
		})
	}
}

// TestHelperGetWithSystemRoots is run as a child process by
// TestWriteCAWorksAsSSLCertFile: a plain http.Get, trusting only what the
// environment says.
func TestHelperGetWithSystemRoots(t *testing.T) {
	u := os.Getenv("SANDBOX_HELPER_URL")
	if u == "" {
		t.Skip("run by TestWriteCAWorksAsSSLCertFile")
	}
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

func TestWriteCAWorksAsSSLCertFile(t *testing.T) {
	ten := New(Options{})
	srv, err := ten.StartTLS("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "sandbox-ca.pem")
	if err := ten.WriteCA(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, srv.CAPEM) {
		t.Error("WriteCA wrote something other than CAPEM")
	}
	child := func(env ...string) error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGetWithSystemRoots$")
		cmd.Env = append(os.Environ(), "SANDBOX_HELPER_URL="+srv.URL+"/common/discovery/instance")
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Logf("child: %s", out)
		}
		return err
	}
	empty := t.TempDir() // SSL_CERT_DIR, so the host's roots stay out
	if err := child("SSL_CERT_FILE="+path, "SSL_CERT_DIR="+empty); err != nil {
		t.Errorf("an unmodified client with SSL_CERT_FILE does not trust the sandbox: %v", err)
	}
	if err := child("SSL_CERT_FILE="+filepath.Join(empty, "none.pem"), "SSL_CERT_DIR="+empty); err == nil {
		t.Error("a client without the CA trusts the sandbox")
	}
}

func TestStartServesPlainHTTPOnLoopbackOnly(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"localhost:0", true},
		{"0.0.0.0:0", false},
		{":0", false},
		{"192.0.2.10:0", false},
		{"example.com:0", false},
		{"no-port", false},
	}
	ten := New(Options{})
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			srv, err := ten.Start(tt.addr)
			if (err == nil) != tt.ok {
				t.Fatalf("Start(%q) err = %v, want ok=%v", tt.addr, err, tt.ok)
			}
			if err != nil {
				return
			}
			defer srv.Close()
			if !strings.HasPrefix(srv.URL, "http://") || srv.CAPEM != nil {
				t.Errorf("server = %+v", srv)
			}
			res, err := http.Get(srv.URL + "/v1.0/users")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /v1.0/users without a token = %d, want 401", res.StatusCode)
			}
		})
	}
}
