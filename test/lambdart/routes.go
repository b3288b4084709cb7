package lambdart

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Headers of the Runtime API
// (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	headerRequestID   = "Lambda-Runtime-Aws-Request-Id"
	headerDeadline    = "Lambda-Runtime-Deadline-Ms"
	headerFunctionARN = "Lambda-Runtime-Invoked-Function-Arn"
	headerTraceID     = "Lambda-Runtime-Trace-Id"
	headerErrorType   = "Lambda-Runtime-Function-Error-Type"
	headerErrorBody   = "Lambda-Runtime-Function-Error-Body" // a trailer: base64 of the error JSON
	headerExtensionID = "Lambda-Extension-Identifier"
)

// routes maps the Runtime API (and the sliver of the Extensions API that
// aws-lambda-go's WithEnableSIGTERM uses).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", s.handleNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", s.handleResponse)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", s.handleError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", s.handleInitError)
	mux.HandleFunc("POST /2020-01-01/extension/register", s.handleRegister)
	mux.HandleFunc("GET /2020-01-01/extension/event/next", s.handleExtensionNext)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorDoc("UnknownResource", "no route for "+r.Method+" "+r.URL.Path))
	})
	return mux
}

// handleNext long-polls for the next invocation.
func (s *Server) handleNext(w http.ResponseWriter, r *http.Request) {
	s.noteNext()
	var inv *invocation
	select {
	case inv = <-s.pending:
	case <-r.Context().Done():
		return
	case <-s.closed:
		return
	}
	s.take(inv)
	h := w.Header()
	h.Set(headerRequestID, inv.id)
	h.Set(headerDeadline, deadlineHeader(inv.deadline))
	h.Set(headerFunctionARN, s.FunctionARN())
	h.Set(headerTraceID, inv.traceID)
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(inv.payload) //nolint:errcheck // a lost event times out like on Lambda.
}

// handleResponse takes the function's result.
func (s *Server) handleResponse(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorDoc("InvalidRequest", "reading the response: "+err.Error()))
		return
	}
	io.Copy(io.Discard, r.Body) //nolint:errcheck // drained so trailers arrive
	switch {
	case len(body) > maxPayload:
		msg := fmt.Sprintf("Response payload size exceeded maximum allowed payload size (%d bytes).", maxPayload)
		if !s.finish(id, nil, newPlatformError(ErrorTypeResponseTooLarge, msg)) {
			writeInvalidID(w)
			return
		}
		writeJSON(w, http.StatusRequestEntityTooLarge, errorDoc("RequestEntityTooLarge", msg))
		return
	case r.Trailer.Get(headerErrorType) != "":
		// The runtime's body failed mid-stream; it sent the error as trailers.
		doc, _ := base64.StdEncoding.DecodeString(r.Trailer.Get(headerErrorBody))
		if !s.finish(id, nil, parseFunctionError(doc, r.Trailer.Get(headerErrorType))) {
			writeInvalidID(w)
			return
		}
	default:
		if !s.finish(id, body, nil) {
			writeInvalidID(w)
			return
		}
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

// handleError takes the function's error for an invocation.
func (s *Server) handleError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorDoc("InvalidRequest", "reading the error: "+err.Error()))
		return
	}
	if !s.finish(r.PathValue("id"), nil, parseFunctionError(body, r.Header.Get(headerErrorType))) {
		writeInvalidID(w)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

// handleInitError records a failed init.
func (s *Server) handleInitError(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorDoc("InvalidRequest", "reading the error: "+err.Error()))
		return
	}
	s.setInitError(parseFunctionError(body, r.Header.Get(headerErrorType)))
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "OK"})
}

// handleRegister accepts an extension registration (lambda.WithEnableSIGTERM
// registers one that subscribes to no events).
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	name := s.name
	s.mu.Unlock()
	w.Header().Set(headerExtensionID, newRequestID())
	writeJSON(w, http.StatusOK, map[string]string{
		"functionName": name, "functionVersion": "$LATEST", "handler": "bootstrap",
	})
}

// handleExtensionNext blocks: no extension events are ever delivered.
func (s *Server) handleExtensionNext(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closed:
	}
}

// parseFunctionError reads the documented error document
// {"errorMessage", "errorType", "stackTrace"}; errorType falls back to the
// Lambda-Runtime-Function-Error-Type header.
func parseFunctionError(body []byte, headerType string) *FunctionError {
	var doc struct {
		Message    string            `json:"errorMessage"`
		Type       string            `json:"errorType"`
		StackTrace []json.RawMessage `json:"stackTrace"`
	}
	e := &FunctionError{Payload: body}
	if err := json.Unmarshal(body, &doc); err != nil {
		e.Message = string(body)
	} else {
		e.Message, e.Type = doc.Message, doc.Type
		for _, f := range doc.StackTrace {
			e.Trace = append(e.Trace, frameLine(f))
		}
	}
	if e.Type == "" {
		e.Type = headerType
	}
	if e.Type == "" {
		e.Type = "Unhandled"
	}
	return e
}

// frameLine renders one stackTrace entry: runtimes send strings (Node,
// Python) or, like aws-lambda-go, {"path","line","label"} objects.
func frameLine(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var f struct {
		Path  string `json:"path"`
		Line  int    `json:"line"`
		Label string `json:"label"`
	}
	if json.Unmarshal(raw, &f) == nil && f.Path != "" {
		return fmt.Sprintf("%s:%d %s", f.Path, f.Line, f.Label)
	}
	return string(raw)
}

// newPlatformError is an error the service itself reports.
func newPlatformError(typ, msg string) *FunctionError {
	payload, _ := json.Marshal(errorDoc(typ, msg))
	return &FunctionError{Type: typ, Message: msg, Payload: payload}
}

// errorDoc is the Runtime API's ErrorResponse.
func errorDoc(typ, msg string) map[string]string {
	return map[string]string{"errorMessage": msg, "errorType": typ}
}

// writeInvalidID answers a request for an id that is not in flight.
func writeInvalidID(w http.ResponseWriter) {
	writeJSON(w, http.StatusBadRequest, errorDoc("InvalidRequestID", "Invalid request ID"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

// newRequestID returns a random UUID (version 4), like Lambda's request ids.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// newTraceID returns an X-Ray trace header like Lambda's
// "Root=1-{epoch hex}-{96-bit hex};Parent={64-bit hex};Sampled=0".
func newTraceID() string {
	var b [20]byte
	rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0",
		time.Now().Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
