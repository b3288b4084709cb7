package sandbox

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// Server is a running sandbox server.
type Server struct {
	// URL is the origin, e.g. "https://127.0.0.1:43123": the authority
	// host for azidentity and, with "/v1.0", the Graph base URL.
	URL string
	// CAPEM is the PEM of the CA that signed the server certificate (nil
	// for a plain HTTP server).
	CAPEM []byte
	// Close stops the server and closes its connections.
	Close func() error
}

// authority is the tenant's own certificate authority and the server
// certificate it issued.
type authority struct {
	caPEM  []byte
	pool   *x509.CertPool
	server tls.Certificate
}

// authority returns the tenant's CA, generating it on first use: an ECDSA
// P-256 CA and a server certificate for localhost, 127.0.0.1 and ::1.
func (t *Tenant) authority() (*authority, error) {
	t.caOnce.Do(func() { t.ca, t.caErr = newAuthority(t.now()) })
	return t.ca, t.caErr
}

func newAuthority(now time.Time) (*authority, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial := func() *big.Int {
		n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
		return n
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "stint sandbox tenant CA", Organization: []string{"stint sandbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &authority{
		caPEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:   pool,
		server: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
	}, nil
}

// quietHandshakes drops the server's "TLS handshake error" lines: a client
// that does not trust the CA yet is the client's news, not the server's.
// Everything else goes to standard error.
type quietHandshakes struct{}

func (quietHandshakes) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("TLS handshake error")) {
		return len(p), nil
	}
	return os.Stderr.Write(p)
}

// StartTLS serves the tenant over HTTPS on addr ("127.0.0.1:0" picks a
// port), with a certificate from the tenant's own CA.
func (t *Tenant) StartTLS(addr string) (*Server, error) {
	ca, err := t.authority()
	if err != nil {
		return nil, fmt.Errorf("sandbox: certificate authority: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           t.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{ca.server}, MinVersion: tls.VersionTLS12},
		ErrorLog:          log.New(quietHandshakes{}, "", log.LstdFlags),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	return &Server{URL: "https://" + ln.Addr().String(), CAPEM: ca.caPEM, Close: srv.Close}, nil
}

// Start serves the tenant over plain HTTP. Only loopback addresses are
// allowed: access tokens travel in the clear.
func (t *Tenant) Start(addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("sandbox: refusing plain HTTP on %q: only loopback addresses (127.0.0.1, ::1, localhost) may serve without TLS", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: t.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &Server{URL: "http://" + ln.Addr().String(), Close: srv.Close}, nil
}

// WriteCA writes the PEM of the tenant's CA to path, so that unmodified
// binaries trust the sandbox through SSL_CERT_FILE.
func (t *Tenant) WriteCA(path string) error {
	ca, err := t.authority()
	if err != nil {
		return fmt.Errorf("sandbox: certificate authority: %w", err)
	}
	if err := os.WriteFile(path, ca.caPEM, 0o644); err != nil {
		return fmt.Errorf("sandbox: write CA: %w", err)
	}
	return nil
}

// CAPool returns a pool holding the tenant's CA, for clients in the same
// process. It is nil only if the CA could not be generated.
func (t *Tenant) CAPool() *x509.CertPool {
	ca, err := t.authority()
	if err != nil {
		return nil
	}
	return ca.pool
}
