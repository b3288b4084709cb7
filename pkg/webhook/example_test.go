package webhook_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"

	"github.com/stintdev/stint/pkg/webhook"
)

// The webhook served over plain HTTP until SIGINT, then stopped within the
// 2 s grace however slow its clients: the pattern `stint serve` follows.
func ExampleNewServer() {
	var h *webhook.Handler // built from the configuration
	log := slog.Default()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	l, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		log.Error(err.Error())
		return
	}
	o := webhook.ServerOptions{Log: log} // the defaults: see ServerOptions
	mux := http.NewServeMux()
	mux.Handle("/events", h)
	srv := webhook.NewServer(mux, o)
	errs := make(chan error, 1)
	go func() { errs <- srv.Serve(webhook.LimitListener(l, o)) }()

	select {
	case <-ctx.Done():
	case err := <-errs:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("webhook: serve: " + err.Error())
		}
	}
	if err := webhook.Shutdown(srv, o); err != nil {
		log.Error(err.Error())
	}
}
