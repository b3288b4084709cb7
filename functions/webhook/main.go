// Command webhook is the AWS Lambda that receives signed engagement events
// (Function URL) and enqueues them on SQS FIFO. It links no Graph SDK.
//
// Configuration: STINT_WEBHOOK_SECRET, STINT_QUEUE_URL, and optionally
// STINT_GROUPS (then unknown access keys are refused with 400 here).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/queue/sqs"
	"github.com/stintdev/stint/pkg/webhook"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := wire(context.Background(), log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stint webhook: "+err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func wire(ctx context.Context, log *slog.Logger) (*webhook.Handler, error) {
	secret, err := config.Required("STINT_WEBHOOK_SECRET", "whsec_<base64>, several separated by spaces to rotate")
	if err != nil {
		return nil, err
	}
	verifier, err := webhook.ParseSecrets(secret)
	if err != nil {
		return nil, err
	}
	url, err := config.Required("STINT_QUEUE_URL", "the SQS FIFO queue URL the worker reads")
	if err != nil {
		return nil, err
	}
	queue, err := sqs.Open(ctx, "STINT_QUEUE_URL", url)
	if err != nil {
		return nil, err
	}
	h := &webhook.Handler{Verifier: verifier, Queue: queue, Log: log}
	if os.Getenv("STINT_GROUPS") != "" {
		groups, err := config.Groups()
		if err != nil {
			return nil, err
		}
		h.AccessKeys = config.Keys(groups)
	}
	return h, nil
}
