// Command worker is the AWS Lambda behind the SQS FIFO event queue: it
// applies each event to the ledger and to Entra, and sends what can never
// succeed to the dead-letter queue.
//
// Configuration: STINT_GROUPS, STINT_DEFAULT_ACCESS, STINT_STORE,
// STINT_DLQ_URL, STINT_SEND_INVITATION, STINT_INVITE_REDIRECT_URL,
// STINT_GRAPH_ENDPOINT and the AZURE_* credential variables. At cold start
// it reads every allow-listed group and refuses role-assignable ones.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/engagement"
	"github.com/stintdev/stint/pkg/entra"
	"github.com/stintdev/stint/pkg/ledger"
	"github.com/stintdev/stint/pkg/queue/sqs"
	"github.com/stintdev/stint/pkg/worker"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	h, err := wire(context.Background(), log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stint worker: "+err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

func wire(ctx context.Context, log *slog.Logger) (*worker.SQSHandler, error) {
	groups, err := config.Groups()
	if err != nil {
		return nil, err
	}
	defaults, err := config.DefaultAccess(groups)
	if err != nil {
		return nil, err
	}
	send, redirect, err := config.Invitation()
	if err != nil {
		return nil, err
	}
	store, err := config.Required("STINT_STORE", "sqlite:///path/to/stint.db or dynamodb://table")
	if err != nil {
		return nil, err
	}
	dlqURL, err := config.Required("STINT_DLQ_URL", "the SQS FIFO queue URL for events that can never apply")
	if err != nil {
		return nil, err
	}
	endpoint, err := entra.EndpointFromEnv()
	if err != nil {
		return nil, err
	}
	cred, err := entra.CredentialFromEnv(nil)
	if err != nil {
		return nil, err
	}
	dir, err := entra.New(entra.Config{Endpoint: endpoint, Credential: cred, Logger: log})
	if err != nil {
		return nil, err
	}
	checkCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := engagement.CheckGroups(checkCtx, dir, groups); err != nil {
		return nil, err
	}
	l, err := ledger.Open(ctx, store)
	if err != nil {
		return nil, err
	}
	dlq, err := sqs.Open(ctx, "STINT_DLQ_URL", dlqURL)
	if err != nil {
		return nil, err
	}
	events := &worker.Handler{
		Ledger: l, Directory: dir, Log: log, Now: time.Now,
		Settings: worker.Settings{
			Groups:         groups,
			Options:        engagement.Options{DefaultAccess: defaults, Allowed: config.Keys(groups)},
			SendInvitation: send, RedirectURL: redirect,
		},
	}
	return &worker.SQSHandler{Events: events, DeadLetters: dlq, Concurrency: 8, Log: log}, nil
}
