// Command worker is a tiny SQS-driven Lambda for sqsfake's tests: it logs
// each record and reports a body "fail" as a batch item failure on its first
// delivery.
package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handle(_ context.Context, e events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	for _, r := range e.Records {
		count := r.Attributes["ApproximateReceiveCount"]
		fmt.Printf("worker: %s receive=%s source=%s\n", r.Body, count, r.EventSourceARN)
		if r.Body == "fail" && count == "1" {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
		}
	}
	return resp, nil
}

func main() {
	lambda.Start(handle)
}
