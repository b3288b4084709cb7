package webhook_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stintdev/stint/pkg/webhook"
)

// countingListener is a stand-in for the kernel's side of the listener:
// it counts the connections accepted and not yet closed, and the most open
// at once. Wrapped by webhook.LimitListener, it sees exactly what the
// server holds; a connection is counted closed before the limiter frees
// its slot, so the count never runs ahead of the limit.
type countingListener struct {
	net.Listener
	mu        sync.Mutex
	open, max int
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open++
	l.max = max(l.max, l.open)
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

// most is the most connections the server held at once.
func (l *countingListener) most() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

type countedConn struct {
	net.Conn
	l    *countingListener
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.l.open--
		c.l.mu.Unlock()
	})
	return err
}

// served is the webhook's server on a loopback port, wired as `stint serve`
// wires it: NewServer over LimitListener.
type served struct {
	addr     string
	srv      *http.Server
	listener *countingListener
	done     chan struct{} // closed when Serve returned, with err
	err      error
}

func serve(tb testing.TB, h http.Handler, o webhook.ServerOptions) *served {
	tb.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s := &served{addr: raw.Addr().String(), srv: webhook.NewServer(h, o), listener: &countingListener{Listener: raw}, done: make(chan struct{})}
	go func() {
		s.err = s.srv.Serve(webhook.LimitListener(s.listener, o))
		close(s.done)
	}()
	tb.Cleanup(func() {
		s.srv.Close()
		<-s.done
	})
	return s
}

// quiet is the webhook handler, logging nowhere: the server tests look at
// connections, not at the log.
func quiet(tb testing.TB) *webhook.Handler {
	tb.Helper()
	h := newHandler(tb, &fakeQueue{}, &bytes.Buffer{})
	h.Log = slog.New(slog.DiscardHandler)
	return h
}

// dial opens a raw TCP connection to addr; a 30 s deadline keeps a broken
// server from hanging the test.
func dial(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// ended reads conn until the server ends it (or the deadline passes: then
// the error is a timeout), and reports the read error then.
func ended(conn net.Conn) <-chan error {
	c := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, conn)
		if err == nil {
			err = io.EOF
		}
		c <- err
	}()
	return c
}

func TestNewServerDefaults(t *testing.T) {
	srv := webhook.NewServer(http.NotFoundHandler(), webhook.ServerOptions{})
	tests := []struct {
		name      string
		got, want any
	}{
		{"ReadHeaderTimeout", srv.ReadHeaderTimeout, 5 * time.Second},
		{"ReadTimeout", srv.ReadTimeout, 15 * time.Second},
		{"WriteTimeout", srv.WriteTimeout, 30 * time.Second},
		{"IdleTimeout", srv.IdleTimeout, 30 * time.Second},
		{"MaxHeaderBytes", srv.MaxHeaderBytes, 8 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
			}
		})
	}
}

// TestServerCutsASlowBody: a client sending its body a byte at a time
// holds its connection no longer than the read timeout.
func TestServerCutsASlowBody(t *testing.T) {
	s := serve(t, quiet(t), webhook.ServerOptions{ReadTimeout: time.Second})
	conn := dial(t, s.addr)
	const size = 100 // 10 s at a byte every 100 ms
	fmt.Fprintf(conn, "POST /events HTTP/1.1\r\nHost: stint\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size)
	cut := ended(conn)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	var err error
	for sent < size && err == nil {
		select {
		case err = <-cut:
		case <-tick.C:
			if _, werr := conn.Write([]byte(" ")); werr != nil {
				err = werr
				break
			}
			sent++
		}
	}
	if sent == size {
		t.Fatalf("the server read all %d bytes of a body sent a byte every 100 ms; want it cut at the 1 s read timeout", size)
	}
	var nerr net.Error
	if errors.As(err, &nerr) && nerr.Timeout() {
		t.Errorf("the client's own deadline ended the connection (%v), not the server", err)
	}
}

// TestServerLimitsConnections: connections that send headers and never
// finish them are held at most MaxConns at a time; the rest wait in the
// kernel's backlog, costing the process nothing, until the header timeout
// frees a slot. Every one is still answered (cut) in the end.
func TestServerLimitsConnections(t *testing.T) {
	const limit, clients = 4, 20
	s := serve(t, quiet(t), webhook.ServerOptions{MaxConns: limit, ReadHeaderTimeout: 300 * time.Millisecond})
	var cuts []<-chan error
	for range clients {
		conn := dial(t, s.addr)
		io.WriteString(conn, "POST /events HTTP/1.1\r\nHost: stint\r\n")
		cuts = append(cuts, ended(conn))
	}
	for i, cut := range cuts {
		if err := <-cut; err != io.EOF && !isReset(err) {
			t.Errorf("client %d: %v, want the server to end the connection", i, err)
		}
	}
	if got := s.listener.most(); got > limit {
		t.Errorf("the server held %d connections at once, want at most %d", got, limit)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// TestShutdownCutsAStuckClient: a client stuck halfway through its body
// holds the shutdown no longer than the 2 s grace.
func TestShutdownCutsAStuckClient(t *testing.T) {
	var started atomic.Bool
	entered := make(chan struct{})
	wh := quiet(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if started.CompareAndSwap(false, true) {
			close(entered)
		}
		wh.ServeHTTP(w, r)
	})
	o := webhook.ServerOptions{} // the defaults: a 15 s read timeout, a 2 s grace
	s := serve(t, h, o)
	conn := dial(t, s.addr)
	io.WriteString(conn, "POST /events HTTP/1.1\r\nHost: stint\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	cut := ended(conn)
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the request did not reach the handler in 10 s")
	}
	begin := time.Now()
	if err := webhook.Shutdown(s.srv, o); err != nil {
		t.Errorf("Shutdown = %v, want nil", err)
	}
	if took := time.Since(begin); took > 4*time.Second {
		t.Errorf("Shutdown took %v with a client stuck in its body, want about the 2 s grace (at most 4 s on a slow machine)", took.Round(time.Millisecond))
	}
	select {
	case <-cut:
	case <-time.After(5 * time.Second):
		t.Error("the stuck client's connection is still open after Shutdown")
	}
	<-s.done
	if !errors.Is(s.err, http.ErrServerClosed) {
		t.Errorf("Serve = %v, want http.ErrServerClosed", s.err)
	}
}

// TestServerRefusesLargeHeaders: the webhook needs a few short headers;
// a 900 KB one is refused by the server before the handler sees it.
func TestServerRefusesLargeHeaders(t *testing.T) {
	var reached atomic.Bool
	wh := quiet(t)
	s := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Store(true)
		wh.ServeHTTP(w, r)
	}), webhook.ServerOptions{})
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/events", strings.NewReader("{}"))
	req.Header.Set("webhook-id", strings.Repeat("A", 900<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || reached.Load() {
		t.Errorf("status = %d, handler reached = %v; want 431 and the handler not reached", resp.StatusCode, reached.Load())
	}
}
