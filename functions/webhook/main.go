// Command webhook is the AWS Lambda that receives signed engagement events
// (Function URL) and enqueues them on SQS FIFO. It links no Graph SDK.
//
// Configuration (pkg/config): STINT_WEBHOOK_SECRET_ARN (the secret, read
// from Secrets Manager at cold start) or STINT_WEBHOOK_SECRET,
// STINT_QUEUE_URL, and optionally STINT_GROUPS (then unknown access keys are
// refused with 400 here).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stintdev/stint/pkg/awssecret"
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
	cfg, err := config.Load(config.Webhook, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	secret := cfg.WebhookSecret
	if cfg.WebhookSecretARN != "" {
		if secret, err = awssecret.Read(ctx, "STINT_WEBHOOK_SECRET_ARN", cfg.WebhookSecretARN); err != nil {
			return nil, err
		}
	}
	verifier, err := webhook.ParseSecrets(secret)
	if err != nil && cfg.WebhookSecretARN != "" {
		return nil, fmt.Errorf("the secret STINT_WEBHOOK_SECRET_ARN %s names holds no valid webhook secret (its SecretString is read as STINT_WEBHOOK_SECRET): %w", cfg.WebhookSecretARN, err)
	}
	if err != nil {
		return nil, err
	}
	queue, err := sqs.Open(ctx, "STINT_QUEUE_URL", cfg.QueueURL)
	if err != nil {
		return nil, err
	}
	h := &webhook.Handler{Verifier: verifier, Queue: queue, Log: log}
	if cfg.Groups != nil {
		h.AccessKeys = config.Keys(cfg.Groups)
	}
	return h, nil
}
