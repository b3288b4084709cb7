// Package servicebus starts a stand-in for Azure Service Bus: an AMQP 1.0
// server (server.js, on the rhea npm package in test/tools) that answers
// as Service Bus does on the wire, for tests of code built on azservicebus.
// Neither the service nor Microsoft's emulator (it needs Docker) is
// reachable from the tests; `make tools` installs what the stand-in needs.
//
// It holds to the documented wire behaviour (shared/servicebus-facts.md):
// SASL ANONYMOUS, claims-based security on $cbs with SAS signatures really
// checked, sessions with their locks, peek-lock settlement, delivery counts,
// dead-lettering, duplicate detection, the maximum message size and the
// $management operations. README.md beside this file lists what is
// faithful, what is simplified and each choice the documentation did not
// settle. Messages live in memory: a stopped stand-in loses them (the
// service is durable).
//
// Use it with the emulator connection string, which makes azservicebus dial
// plain amqp://127.0.0.1:<port>:
//
//	sb := servicebus.Start(t, servicebus.Options{Queues: []servicebus.QueueOptions{{Name: "events", RequiresSession: true}}})
//	client, err := azservicebus.NewClientFromConnectionString(sb.ConnectionString(), nil)
package servicebus

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stintdev/stint/test/tools"
)

// Defaults of a queue, as Service Bus (Standard tier) has them.
const (
	DefaultMaxDeliveryCount         = 10
	DefaultLockDuration             = 60 * time.Second
	DefaultDuplicateDetectionWindow = 10 * time.Minute
	DefaultMaxMessageSize           = 256 * 1024
	// MaxLockDuration is the longest lock Service Bus allows.
	MaxLockDuration = 5 * time.Minute
)

// KeyName is the name of the namespace's shared access key.
const KeyName = "RootManageSharedAccessKey"

// QueueOptions describes a queue; zero values take Service Bus's defaults.
type QueueOptions struct {
	Name string
	// RequiresSession makes it a session queue: every message needs a
	// SessionID and receivers must accept a session.
	RequiresSession bool
	// MaxDeliveryCount is how many deliveries a message gets before it is
	// dead-lettered with reason MaxDeliveryCountExceeded (default 10).
	MaxDeliveryCount int
	// LockDuration is how long a message (or session) lock lasts
	// (default 60 s, at most 5 min).
	LockDuration time.Duration
	// DuplicateDetectionWindow is how long a MessageID is remembered
	// (default 10 min); negative turns duplicate detection off.
	DuplicateDetectionWindow time.Duration
	// MaxMessageSize is the largest message, in bytes (default 256 KiB).
	MaxMessageSize int
}

// Options configures a stand-in.
type Options struct {
	Queues []QueueOptions
	// SessionWait is how long an accept-next-session waits for a session
	// when the client sends no com.microsoft:timeout (default 60 s).
	SessionWait time.Duration
	// TLS serves AMQP over TLS, as Service Bus does (amqps), with a
	// certificate for 127.0.0.1 that clients trust through CertPEM; a
	// client then reaches it with NewClient(Namespace(), credential) and
	// an Entra token, not the emulator's connection string.
	TLS bool
}

// Server is a running stand-in.
type Server struct {
	host string
	key  string
	cert []byte // PEM, with TLS

	cmd   *exec.Cmd
	stdin io.Closer
	once  sync.Once
}

// Start runs a stand-in on a free loopback port and stops it when the test
// ends. It fails the test, never skips it, when Node.js or the npm packages
// are missing: a Service Bus test that does not run must not pass.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := start(o)
	if err != nil {
		tb.Fatalf("servicebus: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// ConnectionString is the namespace's connection string in the emulator's
// form: azservicebus and @azure/service-bus dial amqp:// (no TLS) to it.
func (s *Server) ConnectionString() string {
	return fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true;", s.host, KeyName, s.key)
}

// Namespace is the fully qualified namespace clients use: 127.0.0.1:<port>.
func (s *Server) Namespace() string { return s.host }

// CertPEM is the certificate of a TLS stand-in, for clients to trust
// (SSL_CERT_FILE); nil without TLS.
func (s *Server) CertPEM() []byte { return s.cert }

// Key returns the namespace's shared access key and its name.
func (s *Server) Key() (name, key string) { return KeyName, s.key }

// Stop ends the stand-in (and loses its messages). It is safe to call more
// than once; Start arranges a call at the end of the test.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.stdin.Close()
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
}

type queueConfig struct {
	Name                       string `json:"name"`
	RequiresSession            bool   `json:"requiresSession"`
	MaxDeliveryCount           int    `json:"maxDeliveryCount"`
	LockDurationMs             int64  `json:"lockDurationMs"`
	DuplicateDetectionWindowMs int64  `json:"duplicateDetectionWindowMs"`
	MaxMessageSize             int    `json:"maxMessageSize"`
}

type config struct {
	KeyName       string        `json:"keyName"`
	Key           string        `json:"key"`
	SessionWaitMs int64         `json:"sessionWaitMs"`
	Queues        []queueConfig `json:"queues"`
	// TLSKey and TLSCert are PEM, with Options.TLS.
	TLSKey  string `json:"tlsKey,omitempty"`
	TLSCert string `json:"tlsCert,omitempty"`
}

func (o Options) config(key string) (config, error) {
	c := config{KeyName: KeyName, Key: key, SessionWaitMs: o.SessionWait.Milliseconds()}
	if c.SessionWaitMs <= 0 {
		c.SessionWaitMs = 60000
	}
	seen := map[string]bool{}
	for _, q := range o.Queues {
		name := strings.ToLower(q.Name)
		if q.Name == "" || strings.Contains(q.Name, "$") || seen[name] {
			return config{}, fmt.Errorf("queue name %q is empty, reserved or repeated", q.Name)
		}
		seen[name] = true
		qc := queueConfig{
			Name:             q.Name,
			RequiresSession:  q.RequiresSession,
			MaxDeliveryCount: q.MaxDeliveryCount,
			LockDurationMs:   q.LockDuration.Milliseconds(),
			MaxMessageSize:   q.MaxMessageSize,
		}
		if qc.MaxDeliveryCount <= 0 {
			qc.MaxDeliveryCount = DefaultMaxDeliveryCount
		}
		if q.LockDuration <= 0 {
			qc.LockDurationMs = DefaultLockDuration.Milliseconds()
		}
		if q.LockDuration > MaxLockDuration {
			return config{}, fmt.Errorf("queue %s: lock duration %s is over Service Bus's maximum of %s", q.Name, q.LockDuration, MaxLockDuration)
		}
		switch {
		case q.DuplicateDetectionWindow < 0:
			qc.DuplicateDetectionWindowMs = 0
		case q.DuplicateDetectionWindow == 0:
			qc.DuplicateDetectionWindowMs = DefaultDuplicateDetectionWindow.Milliseconds()
		default:
			qc.DuplicateDetectionWindowMs = q.DuplicateDetectionWindow.Milliseconds()
		}
		if qc.MaxMessageSize <= 0 {
			qc.MaxMessageSize = DefaultMaxMessageSize
		}
		c.Queues = append(c.Queues, qc)
	}
	return c, nil
}

func start(o Options) (*Server, error) {
	script, err := ScriptPath("server.js")
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := base64.StdEncoding.EncodeToString(raw)
	c, err := o.config(key)
	if err != nil {
		return nil, err
	}
	var cert []byte
	if o.TLS {
		var keyPEM []byte
		if cert, keyPEM, err = loopbackCert(); err != nil {
			return nil, err
		}
		c.TLSCert, c.TLSKey = string(cert), string(keyPEM)
	}
	arg, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("node", script, string(arg))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start node %s: %w", script, err)
	}
	s := &Server{key: key, cert: cert, cmd: cmd, stdin: stdin}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- addr
				break
			}
		}
		close(ready)
		io.Copy(io.Discard, out)
	}()
	select {
	case addr, ok := <-ready:
		if !ok {
			s.Stop()
			return nil, fmt.Errorf("the stand-in (node %s) exited before listening", script)
		}
		s.host = addr
	case <-time.After(30 * time.Second):
		s.Stop()
		return nil, fmt.Errorf("the stand-in (node %s) was not listening after 30s", script)
	}
	return s, nil
}

// ScriptPath returns the path of a script of this package (server.js,
// crosscheck.js), after checking that Node.js and the npm packages the
// scripts need are installed.
func ScriptPath(name string) (string, error) {
	if err := tools.Need("the Service Bus stand-in", "rhea", "@azure/service-bus"); err != nil {
		return "", err
	}
	root, err := tools.Root()
	return filepath.Join(root, "test", "servicebus", name), err
}

// loopbackCert makes a self-signed certificate for 127.0.0.1, valid for a
// day, and its key, both PEM.
func loopbackCert() (cert, key []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "Service Bus stand-in"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), nil
}
