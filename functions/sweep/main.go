// Command sweep is the AWS Lambda the schedules invoke: {"mode":"tick"}
// every minute, {"mode":"reconcile"} hourly or daily, with "dryRun": true to
// report without writing. It answers a JSON summary.
//
// Configuration (pkg/config): as the worker (without STINT_DLQ_URL), plus
// STINT_GHOST_GRACE (default 24h), STINT_GHOST_ACTION (remove or report)
// and STINT_UNREDEEMED_AFTER (default 30d).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/policy"
	"github.com/stintdev/stint/pkg/sweep"
	"github.com/stintdev/stint/pkg/wire"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	s, err := build(context.Background(), log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stint sweep: "+err.Error())
		os.Exit(1)
	}
	lambda.Start(s.Run)
}

func build(ctx context.Context, log *slog.Logger) (*sweep.Sweeper, error) {
	cfg, err := config.Load(config.Sweep, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	// The reconcile waits out throttling rather than failing: up to 10
	// retries, each within the invocation's deadline.
	h, err := wire.Handler(ctx, cfg, log, 10)
	if err != nil {
		return nil, err
	}
	tenant, _ := h.Directory.(policy.Tenant) // the Graph adapter
	return wire.Sweeper(h, cfg, tenant, cfg.Policies), nil
}
