package entra

import (
	"net/http"
	"strings"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
)

// Observed is one Graph request as Config.Observe is told of it.
type Observed struct {
	// Operation is the method and the path with every id replaced by
	// {id} (Operation), e.g. "DELETE /groups/{id}/members/{id}/$ref":
	// a bounded set that names no person, never the URL itself.
	Operation string
	// Status is the HTTP status answered; 0 when no answer came (the
	// connection failed, the context ended).
	Status int
	// InBatch marks an item of a $batch envelope, which has its own
	// status inside the envelope's 200 (and Duration 0).
	InBatch bool
	// Duration is how long the request took on the wire.
	Duration time.Duration
}

// observeRequests, inside the retry handler, tells Config.Observe of every
// attempt on the wire: a 429 the SDK's retry handler then retries is seen
// here, where the outer middlewares see only the final answer.
type observeRequests struct{ observe func(Observed) }

func (o observeRequests) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := p.Next(req, i)
	status := 0
	if err == nil && resp != nil {
		status = resp.StatusCode
	}
	o.observe(Observed{Operation: Operation(req.Method, req.URL.Path), Status: status, Duration: time.Since(start)})
	return resp, err
}

// observeItems tells Config.Observe of the answers to the items of one
// $batch.
func (c *Client) observeItems(reqs []batchRequest, answers map[string]batchResponse) {
	if c.observe == nil {
		return
	}
	for _, r := range reqs {
		c.observe(Observed{Operation: Operation(r.Method, r.URL), Status: answers[r.ID].Status, InBatch: true})
	}
}

// pathWords are the path segments of the Graph calls stint makes, by
// lower-case spelling. Every other segment is an id (a GUID, a user
// principal name, an email address) and is replaced: an unknown word costs
// a vaguer name, never an unbounded label or a person's address in one.
var pathWords = func() map[string]string {
	m := map[string]string{}
	for _, w := range []string{
		"users", "groups", "members", "$ref", "$batch", "invitations", "directoryObjects",
		"microsoft.graph.user", "checkMemberGroups", "revokeSignInSessions",
		"identity", "conditionalAccess", "policies", "namedLocations",
	} {
		m[strings.ToLower(w)] = w
	}
	return m
}()

// Operation names a Graph request by its method and path template: the
// version prefix and the query are dropped, and each segment that is not
// one of the words stint's calls use becomes {id}. path may be a full URL
// path ("/v1.0/users/…") or a $batch item's relative URL ("/users/…?…").
func Operation(method, path string) string {
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) > 0 && (strings.EqualFold(segs[0], "v1.0") || strings.EqualFold(segs[0], "beta")) {
		segs = segs[1:]
	}
	var b strings.Builder
	b.WriteString(strings.ToUpper(method))
	b.WriteString(" ")
	for _, s := range segs {
		if s == "" {
			continue
		}
		b.WriteString("/")
		if w, ok := pathWords[strings.ToLower(s)]; ok {
			b.WriteString(w)
		} else {
			b.WriteString("{id}")
		}
	}
	if !strings.HasSuffix(b.String(), " ") {
		return b.String()
	}
	return b.String() + "/"
}
