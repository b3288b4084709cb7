// Package lambdart runs built AWS Lambda functions on this machine the way
// the Lambda service runs them: it serves the Lambda Runtime API (version
// 2018-06-01) on a loopback port and starts the function's "bootstrap"
// binary as a child process pointed at it through AWS_LAMBDA_RUNTIME_API,
// so the real aws-lambda-go runtime loop (lambda.Start) drives the handler.
//
// It is a fake for the far side of a wire that tests cannot reach. It follows
// the documented service (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html),
// not any particular client.
//
// # Faithful
//
//   - GET /2018-06-01/runtime/invocation/next long-polls until an invocation
//     exists and answers 200 with the event as the body and the headers
//     Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms (epoch
//     milliseconds), Lambda-Runtime-Invoked-Function-Arn
//     (arn:aws:lambda:REGION:000000000000:function:NAME),
//     Lambda-Runtime-Trace-Id and Content-Type: application/json.
//   - POST .../invocation/{id}/response and .../invocation/{id}/error answer
//     202 {"status":"OK"}; an id that is not the invocation in flight answers
//     400 {"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}.
//     A response whose body fails mid-stream (the trailers
//     Lambda-Runtime-Function-Error-Type and -Body) fails the invocation.
//   - POST /2018-06-01/runtime/init/error answers 202 and is recorded; an
//     invocation waiting for the runtime then fails with that error.
//   - One invocation in flight at a time, like one execution environment;
//     further Invoke calls wait their turn.
//   - The timeout starts when the runtime receives the event. If it passes
//     without an answer, Invoke returns a *FunctionError of type
//     "Sandbox.Timedout" ("Task timed out after N seconds") and, as Lambda
//     resets the execution environment after a timeout, Function kills the
//     process.
//   - An invoker that gives up (its ctx ends) does not stop the function: the
//     environment stays busy until the function answers (202, discarded) or
//     its deadline passes, as Lambda keeps running an invocation whose
//     caller disconnected.
//   - A process that exits is replaced on the next Invoke (a cold start, as
//     Lambda re-initialises a fresh environment); an invocation in flight
//     when it exits fails with "Runtime.ExitError". aws-lambda-go reports a
//     handler panic with POST .../error and then exits with status 1, so a
//     panic costs the next invocation a cold start.
//   - Payloads over 6 MB (the synchronous limit) are refused: the request with
//     ErrRequestTooLarge, a response with 413 to the runtime and a
//     "Function.ResponseSizeTooLarge" error to the invoker. The event must be
//     JSON (Lambda answers InvalidRequestContentException otherwise).
//   - The environment holds the documented reserved variables (see Start),
//     including placeholder temporary credentials, as Lambda always provides
//     the execution role's.
//
// # Simplified
//
//   - Timeouts may be shorter than Lambda's one-second minimum, so tests run
//     fast; the init phase is bounded by 10 s (Lambda's on-demand limit) and
//     reported as a plain error rather than retried.
//   - The Extensions API is present only so lambda.WithEnableSIGTERM can
//     register its internal extension: register answers 200 and event/next
//     blocks until the server closes. No INVOKE or SHUTDOWN events are sent;
//     Stop sends SIGTERM directly.
//   - Response streaming, client context, Cognito identity, X-Ray and the
//     Telemetry/Logs APIs are not implemented. Logs are the process's raw
//     stdout and stderr (written to a temporary file, so a line printed
//     before an invocation's answer is in Logs when Invoke returns), without
//     the platform's START/END/REPORT lines.
//
// # Unsure
//
//   - The exact text of platform error messages ("RequestId: ID Error: Task
//     timed out after 1.00 seconds", "Runtime exited with error: exit status
//     1") and the error returned for a response after its invocation ended
//     (this fake answers 400 InvalidRequestID) follow observed service
//     behaviour, not a specification.
//   - An empty event is delivered as {} (what the console and CLI send).
package lambdart
