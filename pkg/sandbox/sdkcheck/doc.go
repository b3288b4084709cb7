// Package sdkcheck holds tests only: it drives the sandbox tenant with
// Microsoft's own clients (azidentity for tokens, msgraph-sdk-go for Graph,
// with the SDK's default middleware, gzip included) to prove that the
// sandbox's answers are what those clients can read. It lives apart from
// package sandbox so that the sandbox's own tests do not link the Graph
// SDK, whose models are slow to build.
package sdkcheck
