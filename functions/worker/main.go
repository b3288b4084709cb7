// Command worker is the AWS Lambda behind the SQS FIFO event queue: it
// applies each event to the ledger and to Entra, and sends what can never
// succeed to the dead-letter queue.
//
// Configuration (pkg/config): STINT_GROUPS, STINT_DEFAULT_ACCESS,
// STINT_STORE, STINT_DLQ_URL, STINT_SEND_INVITATION,
// STINT_INVITE_REDIRECT_URL, STINT_GRAPH_ENDPOINT, STINT_AZURE_FEDERATION
// and the AZURE_* credential variables. At cold start it reads every allow-listed group and
// refuses role-assignable ones.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/queue/sqs"
	"github.com/stintdev/stint/pkg/wire"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := build(context.Background(), log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stint worker: "+err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Consume)
}

func build(ctx context.Context, log *slog.Logger) (*sqs.Consumer, error) {
	cfg, err := config.Load(config.Worker, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	events, err := wire.Handler(ctx, cfg, log, 0)
	if err != nil {
		return nil, err
	}
	dlq, err := sqs.Open(ctx, "STINT_DLQ_URL", cfg.DLQURL)
	if err != nil {
		return nil, err
	}
	// Every contractor of a batch at once (a FIFO event source delivers at
	// most 10 messages): their group additions travel together.
	return &sqs.Consumer{Handle: events.Process, DeadLetters: dlq, Concurrency: 10, Log: log}, nil
}
