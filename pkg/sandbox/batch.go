package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// JSON batching (https://learn.microsoft.com/graph/json-batching).

// maxBatch is how many requests one $batch may carry.
const maxBatch = 20

type batchItem struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

// batch runs a $batch envelope. Malformed envelopes get 400; otherwise the
// answer is 200 and each item carries its own status. Items run one at a
// time, dependencies first, through the same faults, throttling, routing
// and permission checks as direct requests; the responses are listed in
// reverse order of execution, since clients must correlate them by id.
func (t *Tenant) batch(env *gcall) *gresp {
	var in struct {
		Requests []batchItem `json:"requests"`
	}
	if err := json.Unmarshal(env.body, &in); err != nil {
		return env.fail(http.StatusBadRequest, "BadRequest", "Invalid batch payload format.")
	}
	items := in.Requests
	switch {
	case len(items) == 0:
		return env.fail(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: the batch must contain at least one request in 'requests'.")
	case len(items) > maxBatch:
		return env.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("The batch contains %d requests; the limit is %d.", len(items), maxBatch))
	}
	index := map[string]int{}
	for i, it := range items {
		key := strings.ToLower(it.ID)
		switch {
		case it.ID == "" || it.Method == "" || it.URL == "":
			return env.fail(http.StatusBadRequest, "BadRequest", "Invalid batch payload format: every request needs an 'id', a 'method' and a 'url'.")
		case strings.Contains(it.URL, "://") || strings.HasPrefix(it.URL, "//"):
			return env.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Invalid request URL '%s' for request id '%s': batch request URLs must be relative, such as '/users'.", it.URL, it.ID))
		}
		if _, dup := index[key]; dup {
			return env.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Request id '%s' is not unique in the batch.", it.ID))
		}
		index[key] = i
	}
	for _, it := range items {
		for _, d := range it.DependsOn {
			if j, ok := index[strings.ToLower(d)]; !ok || items[j].ID == it.ID {
				return env.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Request id '%s' depends on '%s', which is not another request of the batch.", it.ID, d))
			}
		}
	}
	order, ok := batchOrder(items, index)
	if !ok {
		return env.fail(http.StatusBadRequest, "BadRequest", "The dependsOn references of the batch form a cycle.")
	}

	status := make([]int, len(items))
	var responses []object
	for _, i := range order {
		it := items[i]
		c := t.itemCall(env, it)
		var res *gresp
		if failed := failedDependency(it, index, status); failed != "" {
			// Not run, so not journaled: the journal counts work done.
			res = c.fail(http.StatusFailedDependency, "FailedDependency", fmt.Sprintf("The request depends on request '%s', which failed.", failed))
		} else {
			res = t.runItem(c, it)
			t.record(Request{Method: c.method, Path: "/v1.0" + c.path, Query: c.rawQuery, Status: res.status,
				AppID: env.app.appID, InBatch: true, RequestID: c.requestID, At: c.now})
			if res.drop {
				return res
			}
		}
		status[i] = res.status
		responses = append(responses, itemResponse(it.ID, res))
	}
	slices.Reverse(responses)
	return &gresp{status: http.StatusOK, header: http.Header{
		"Content-Type":  {"application/json"},
		"Cache-Control": {"no-cache"},
		"Odata-Version": {"4.0"},
	}, body: mustJSON(object{{"responses", responses}})}
}

// batchOrder is an execution order honouring dependsOn: the first item,
// in request order, whose dependencies have all run. It reports false on
// a cycle.
func batchOrder(items []batchItem, index map[string]int) ([]int, bool) {
	done := make([]bool, len(items))
	var order []int
	for len(order) < len(items) {
		progress := false
		for i, it := range items {
			if done[i] {
				continue
			}
			ready := true
			for _, d := range it.DependsOn {
				ready = ready && done[index[strings.ToLower(d)]]
			}
			if ready {
				done[i] = true
				order = append(order, i)
				progress = true
				break
			}
		}
		if !progress {
			return nil, false
		}
	}
	return order, true
}

// failedDependency names the first dependency of it that failed, if any.
func failedDependency(it batchItem, index map[string]int, status []int) string {
	for _, d := range it.DependsOn {
		if status[index[strings.ToLower(d)]] >= 400 {
			return d
		}
	}
	return ""
}

// itemCall builds the gcall of a batch item. The item is authenticated by
// the envelope's token.
func (t *Tenant) itemCall(env *gcall, it batchItem) *gcall {
	h := http.Header{}
	for k, v := range it.Headers {
		h.Set(k, v)
	}
	u := it.URL
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	esc, rawQuery, _ := strings.Cut(u, "?")
	c := &gcall{
		done:      env.done,
		method:    strings.ToUpper(it.Method),
		path:      esc,
		escPath:   esc,
		rawQuery:  rawQuery,
		header:    h,
		base:      env.base,
		app:       env.app,
		inBatch:   true,
		requestID: newGUID(),
		now:       t.now().UTC(),
	}
	if p, err := url.PathUnescape(esc); err == nil {
		c.path = p
	}
	c.clientRequestID = h.Get("client-request-id")
	if c.clientRequestID == "" {
		c.clientRequestID = env.clientRequestID
	}
	return c
}

// runItem decodes an item's body and runs it.
func (t *Tenant) runItem(c *gcall, it batchItem) *gresp {
	if res := t.applyFaults(c); res != nil {
		return res
	}
	if len(it.Body) > 0 && string(it.Body) != "null" {
		ct := c.header.Get("Content-Type")
		if ct == "" {
			return c.fail(http.StatusBadRequest, "BadRequest", fmt.Sprintf("Write request id : %s does not contain Content-Type header or body.", it.ID))
		}
		c.body = it.Body
		if !strings.Contains(strings.ToLower(ct), "json") {
			// Non-JSON bodies travel base64-encoded.
			var s string
			if json.Unmarshal(it.Body, &s) != nil {
				return c.fail(http.StatusBadRequest, "BadRequest", "Invalid Data.")
			}
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				if b, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
					return c.fail(http.StatusBadRequest, "BadRequest", "Invalid Data.")
				}
			}
			c.body = b
		}
	}
	return t.execute(c)
}

// itemResponse is one entry of the envelope's "responses".
func itemResponse(id string, res *gresp) object {
	headers := object{}
	for k, v := range res.header {
		if len(v) > 0 {
			headers = append(headers, field{k, v[0]})
		}
	}
	slices.SortFunc(headers, func(a, b field) int { return strings.Compare(a.k, b.k) })
	o := object{{"id", id}, {"status", res.status}, {"headers", headers}}
	if len(res.body) > 0 {
		o = append(o, field{"body", json.RawMessage(res.body)})
	}
	return o
}
