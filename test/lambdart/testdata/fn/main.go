// Command fn is a tiny Lambda function for lambdart's tests. The event's
// "action" picks its behaviour; FAIL_INIT=1 makes it fail before
// lambda.Start, as a function with missing configuration does;
// SIGTERM_HOOK=1 registers a SIGTERM callback (lambda.WithEnableSIGTERM).
package main

import (
	"context"
	"encoding/json"
	"log"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type request struct {
	Action string          `json:"action"`
	Value  json.RawMessage `json:"value,omitempty"`
	Sleep  string          `json:"sleep,omitempty"`
	Size   int             `json:"size,omitempty"`
}

type response struct {
	Action      string            `json:"action"`
	Value       json.RawMessage   `json:"value,omitempty"`
	PID         int               `json:"pid"`
	DeadlineMs  int64             `json:"deadlineMs,omitempty"`
	RequestID   string            `json:"requestId,omitempty"`
	FunctionARN string            `json:"functionArn,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Padding     string            `json:"padding,omitempty"`
}

// BadInput is the error the "error" action returns; aws-lambda-go reports
// its type name as errorType.
type BadInput struct{ Reason string }

func (e *BadInput) Error() string { return "bad input: " + e.Reason }

func handle(ctx context.Context, req request) (response, error) {
	resp := response{Action: req.Action, PID: os.Getpid()}
	switch req.Action {
	case "echo":
		resp.Value = req.Value
	case "error":
		return response{}, &BadInput{Reason: string(req.Value)}
	case "panic":
		panic("boom " + string(req.Value))
	case "sleep":
		d, _ := time.ParseDuration(req.Sleep)
		time.Sleep(d) // deliberately ignores ctx, like a stuck handler
	case "exit":
		os.Exit(3)
	case "big":
		resp.Padding = strings.Repeat("x", req.Size)
	case "context":
		deadline, _ := ctx.Deadline()
		resp.DeadlineMs = deadline.UnixMilli()
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			resp.RequestID = lc.AwsRequestID
			resp.FunctionARN = lc.InvokedFunctionArn
		}
		resp.Env = map[string]string{}
		for _, k := range []string{"AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_DEFAULT_REGION", "TZ", "STINT_EXTRA", "_X_AMZN_TRACE_ID"} {
			resp.Env[k] = os.Getenv(k)
		}
	}
	return resp, nil
}

func main() {
	if os.Getenv("FAIL_INIT") == "1" {
		log.Fatal("init: STINT_QUEUE_URL is not set")
	}
	if os.Getenv("SIGTERM_HOOK") == "1" {
		lambda.StartWithOptions(handle, lambda.WithEnableSIGTERM(func() { log.Print("fn: SIGTERM received") }))
	}
	lambda.Start(handle)
}
