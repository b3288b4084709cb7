package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// ServerOptions bound what one client can hold of the webhook's HTTP
// server (`stint serve`). A zero or negative field takes its default; no
// limit can be turned off. Tests shorten them.
//
// The limits bound what a flood costs the process (memory, goroutines, the
// wait at shutdown), not whether it delays honest senders: a sender that
// finds the server busy gets no 202, and Standard Webhooks senders retry.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers (default 5 s):
	// a connection that opens and sends headers slowly, or none, is closed.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, headers and a body of
	// up to 64 KiB (default 15 s, about 4 KB/s): a body sent a byte at a
	// time is cut.
	ReadTimeout time.Duration
	// WriteTimeout bounds the rest of the request once its headers are
	// read: reading the body, enqueueing and writing the answer (default
	// 30 s, above ReadTimeout plus a slow queue). A request cut here did
	// not get its 202; the sender retries, and the queue takes the same
	// event again as a no-op.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for its
	// next request (default 30 s); `stint send` reuses one connection for
	// a batch.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request headers (default 8 KiB; net/http
	// allows 4 KiB on top). The webhook needs a handful of short headers;
	// larger ones are answered 431 before the handler runs.
	MaxHeaderBytes int
	// MaxConns caps the connections served at once (default 256), idle
	// ones included. Beyond it connections wait, unaccepted, in the
	// kernel's backlog until one closes.
	MaxConns int
	// ShutdownGrace is how long Shutdown lets requests in flight finish
	// before it closes their connections (default 2 s).
	ShutdownGrace time.Duration
	// Log receives net/http's own errors (failed accepts, panics in a
	// handler) at warning level; nil leaves them on the standard logger.
	Log *slog.Logger
}

// The defaults of ServerOptions.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 15 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 30 * time.Second
	DefaultMaxHeaderBytes    = 8 << 10
	DefaultMaxConns          = 256
	DefaultShutdownGrace     = 2 * time.Second
)

// withDefaults fills the fields left zero (or negative).
func (o ServerOptions) withDefaults() ServerOptions {
	orDuration := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	orDuration(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDuration(&o.ReadTimeout, DefaultReadTimeout)
	orDuration(&o.WriteTimeout, DefaultWriteTimeout)
	orDuration(&o.IdleTimeout, DefaultIdleTimeout)
	orDuration(&o.ShutdownGrace, DefaultShutdownGrace)
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return o
}

// NewServer returns the HTTP server for the webhook handler h, with every
// timeout of o set: net/http's zero values wait forever, so a client
// sending a byte every few seconds held its connection for minutes. Serve
// it on LimitListener(l, o), and stop it with Shutdown(srv, o).
func NewServer(h http.Handler, o ServerOptions) *http.Server {
	o = o.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    o.MaxHeaderBytes,
	}
	if o.Log != nil {
		srv.ErrorLog = slog.NewLogLogger(o.Log.Handler(), slog.LevelWarn)
	}
	return srv
}

// LimitListener hands out at most o.MaxConns connections of l at a time:
// a connection waits unaccepted until one of those closes, so a flood of
// connections costs the process no goroutine and no buffer. The timeouts
// of NewServer make every held connection close in bounded time.
func LimitListener(l net.Listener, o ServerOptions) net.Listener {
	return netutil.LimitListener(l, o.withDefaults().MaxConns)
}

// Shutdown stops srv within o.ShutdownGrace (default 2 s) of being called:
// it stops accepting at once, lets requests in flight finish during the
// grace, then closes every connection still open. net/http's own Shutdown
// waits for them all, however slow the client; a cut request never got
// its 202, so its sender retries.
func Shutdown(srv *http.Server, o ServerOptions) error {
	o = o.withDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), o.ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("webhook: shutdown: close the connections still open after the %s grace: %w", o.ShutdownGrace, err)
	}
	if o.Log != nil {
		o.Log.Warn("webhook: shutdown grace over; closed the connections still open", "grace", o.ShutdownGrace.String())
	}
	return nil
}
