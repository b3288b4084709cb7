package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/stintdev/stint/pkg/fault"
)

// ErrTooLarge is wrapped by the error for a body over MaxBodySize, so that an
// HTTP front end can answer 413 rather than 400.
var ErrTooLarge = errors.New("event body too large")

// Error says why an event was refused: the field, as a JSON pointer into the
// body ("" for the body as a whole), and the reason.
type Error struct {
	Pointer string
	Reason  string
	cause   error
}

func (e *Error) Error() string {
	if e.Pointer == "" {
		return "invalid event: " + e.Reason
	}
	return "invalid event: " + e.Pointer + ": " + e.Reason
}

// Unwrap returns ErrTooLarge for an oversize body.
func (e *Error) Unwrap() error { return e.cause }

// FaultCode classifies every refused event as permanent.
func (e *Error) FaultCode() fault.Code { return fault.Invalid }

// Field limits, shared with the JSON Schema.
const (
	maxIDLen    = 256
	maxNameLen  = 256
	maxEmailLen = 254
	maxAccess   = 32
)

var (
	accessKeyRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// timestampRe is RFC 3339's date-time, which time.Parse alone does not
	// hold to (it takes a one-digit hour).
	timestampRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`)
)

// Parse validates body and returns the event it holds. Unknown fields inside
// data are ignored, as are CloudEvents extension attributes. The error, when
// not nil, is an *Error.
func Parse(body []byte) (Event, error) {
	if len(body) > MaxBodySize {
		return Event{}, &Error{Reason: fmt.Sprintf("body is %d bytes; the limit is %d", len(body), MaxBodySize), cause: ErrTooLarge}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return Event{}, &Error{Reason: "body is not valid JSON: " + err.Error()}
	}
	if dec.More() {
		return Event{}, &Error{Reason: "body holds more than one JSON value; send one event per request"}
	}
	// More is false for a stray ']' or '}' too, which is not JSON either.
	if rest := bytes.TrimLeft(body[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return Event{}, &Error{Reason: fmt.Sprintf("body is not valid JSON: unexpected %q after the event", rest[:1])}
	}
	root, ok := doc.(map[string]any)
	if !ok {
		return Event{}, &Error{Reason: "body must be a JSON object"}
	}
	if ptr, found := duplicateMember(body); found {
		return Event{}, &Error{Pointer: ptr, Reason: "is given twice; each member may appear once"}
	}
	var ev Event
	if err := check(root, &ev); err != nil {
		return Event{}, err
	}
	return ev, nil
}

// check walks the document in a fixed order, so one body always yields the
// same error, and fills ev as it goes.
func check(root map[string]any, ev *Event) error {
	o := object{m: root}
	var err error
	if ev.SpecVersion, err = o.str("specversion", true, 0); err != nil {
		return err
	}
	if ev.SpecVersion != SpecVersion {
		return &Error{"/specversion", fmt.Sprintf("must be %q, got %q", SpecVersion, ev.SpecVersion), nil}
	}
	// Key joins source and id with a space, so neither may hold one.
	if ev.ID, err = o.token("id", maxIDLen, "an event id is a plain token; stint's deduplication key is the source, a space and the id"); err != nil {
		return err
	}
	if ev.Source, err = o.token("source", maxIDLen, "a CloudEvents source is a URI-reference, which has none (e.g. hr/workday)"); err != nil {
		return err
	}
	typ, err := o.str("type", true, 0)
	if err != nil {
		return err
	}
	ev.Type = Type(typ)
	if !ev.Type.valid() {
		return &Error{"/type", fmt.Sprintf("must be one of %s, %s or %s, got %q", Started, Ended, Extended, typ), nil}
	}
	t, err := o.timestamp("time", true)
	if err != nil {
		return err
	}
	ev.Time = *t
	if ev.Subject, err = o.nonEmpty("subject", maxIDLen); err != nil {
		return err
	}
	if ev.DataContentType, err = o.str("datacontenttype", false, 0); err != nil {
		return err
	}
	if _, present := o.m["datacontenttype"]; present && ev.DataContentType != "application/json" {
		return &Error{"/datacontenttype", fmt.Sprintf("must be \"application/json\", got %q", ev.DataContentType), nil}
	}
	data, err := o.obj("data", true)
	if err != nil {
		return err
	}
	if err := checkData(data, ev); err != nil {
		return err
	}
	return checkRules(ev)
}

func checkData(o object, ev *Event) error {
	d := &ev.Data
	var err error
	if d.EngagementID, err = o.nonEmpty("engagementId", maxIDLen); err != nil {
		return err
	}
	c, err := o.obj("contractor", true)
	if err != nil {
		return err
	}
	if d.Contractor.Email, err = c.email("email"); err != nil {
		return err
	}
	if d.Contractor.DisplayName, err = c.str("displayName", false, maxNameLen); err != nil {
		return err
	}
	if d.Contractor.Company, err = c.str("company", false, maxNameLen); err != nil {
		return err
	}
	if s, err := o.obj("sponsor", false); err != nil {
		return err
	} else if s.m != nil {
		email, err := s.email("email")
		if err != nil {
			return err
		}
		d.Sponsor = &Sponsor{Email: email}
	}
	if d.Access, err = o.accessKeys("access"); err != nil {
		return err
	}
	if d.StartsAt, err = o.timestamp("startsAt", false); err != nil {
		return err
	}
	if d.EndsAt, err = o.timestamp("endsAt", false); err != nil {
		return err
	}
	if d.EndsAt == nil && ev.Type != Ended {
		return &Error{"/data/endsAt", fmt.Sprintf("is required for %s", ev.Type), nil}
	}
	return nil
}

// checkRules holds the cross-field rules that JSON Schema cannot express.
func checkRules(ev *Event) error {
	if ev.Subject != ev.Data.EngagementID {
		return &Error{"/subject", fmt.Sprintf("must equal data.engagementId (%q), got %q", ev.Data.EngagementID, ev.Subject), nil}
	}
	end := ev.Data.EndsAt
	if end == nil {
		return nil
	}
	if err := checkEndsAfterStart(ev, *end); err != nil {
		return err
	}
	// An extension that ends before it was recorded ends access at once (a
	// typo in the year does that), however far back its startsAt lies.
	if ev.Type == Extended && !end.After(ev.Time) {
		return &Error{"/data/endsAt", fmt.Sprintf("an extension must end after the moment it was recorded (time %s), got %s; to end access now, send an %s event",
			ev.Time.Format(time.RFC3339), end.Format(time.RFC3339), Ended), nil}
	}
	return nil
}

// checkEndsAfterStart holds endsAt after startsAt, or after time when
// startsAt is absent. Without startsAt, an ended event needs no check (its
// endsAt may be in the past: "access ends now"), and an extended one is held
// to its time by checkRules, with a reason of its own.
func checkEndsAfterStart(ev *Event, end time.Time) error {
	start, from := ev.Start(), "startsAt"
	if ev.Data.StartsAt == nil {
		if ev.Type != Started {
			return nil
		}
		from = "time (startsAt is absent)"
	}
	if !end.After(start) {
		return &Error{"/data/endsAt", fmt.Sprintf("must be after %s %s, got %s", from, start.Format(time.RFC3339), end.Format(time.RFC3339)), nil}
	}
	return nil
}

func (t Type) valid() bool {
	for _, known := range Types {
		if t == known {
			return true
		}
	}
	return false
}

// object is one JSON object of the body and where it sits.
type object struct {
	ptr string
	m   map[string]any
}

func (o object) at(name string) string { return o.ptr + "/" + name }

func (o object) str(name string, required bool, maxLen int) (string, error) {
	v, ok := o.m[name]
	if !ok {
		if required {
			return "", &Error{o.at(name), "is required", nil}
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", &Error{o.at(name), "must be a string, got " + kind(v), nil}
	}
	if n := utf8.RuneCountInString(s); maxLen > 0 && n > maxLen {
		return "", &Error{o.at(name), fmt.Sprintf("must be at most %d characters, got %d", maxLen, n), nil}
	}
	return s, nil
}

func (o object) nonEmpty(name string, maxLen int) (string, error) {
	s, err := o.str(name, true, maxLen)
	if err == nil && strings.TrimSpace(s) == "" {
		err = &Error{o.at(name), "must not be empty", nil}
	}
	return s, err
}

func (o object) obj(name string, required bool) (object, error) {
	v, ok := o.m[name]
	if !ok {
		if required {
			return object{}, &Error{o.at(name), "is required", nil}
		}
		return object{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return object{}, &Error{o.at(name), "must be an object, got " + kind(v), nil}
	}
	return object{ptr: o.at(name), m: m}, nil
}

func (o object) email(name string) (string, error) {
	s, err := o.str(name, true, maxEmailLen)
	if err != nil {
		return "", err
	}
	if reason := emailProblem(s); reason != "" {
		return "", &Error{o.at(name), reason, nil}
	}
	return s, nil
}

func (o object) timestamp(name string, required bool) (*time.Time, error) {
	s, err := o.str(name, required, 0)
	if err != nil {
		return nil, err
	}
	if _, ok := o.m[name]; !ok {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || !timestampRe.MatchString(s) {
		return nil, &Error{o.at(name), fmt.Sprintf("%q is not an RFC 3339 timestamp with a zone (e.g. 2026-11-21T09:00:00Z)", s), nil}
	}
	return &t, nil
}

func (o object) accessKeys(name string) ([]string, error) {
	v, ok := o.m[name]
	if !ok {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, &Error{o.at(name), "must be an array of access keys, got " + kind(v), nil}
	}
	if len(list) > maxAccess {
		return nil, &Error{o.at(name), fmt.Sprintf("must list at most %d access keys, got %d", maxAccess, len(list)), nil}
	}
	if len(list) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(list))
	seen := map[string]bool{}
	for i, item := range list {
		at := fmt.Sprintf("%s/%d", o.at(name), i)
		s, ok := item.(string)
		if !ok {
			return nil, &Error{at, "must be a string, got " + kind(item), nil}
		}
		if !accessKeyRe.MatchString(s) {
			return nil, &Error{at, fmt.Sprintf("%q is not an access key (letters, digits, '.', '_', '-'; at most 64)", s), nil}
		}
		if seen[s] {
			return nil, &Error{o.at(name), fmt.Sprintf("%q is listed twice", s), nil}
		}
		seen[s] = true
		keys = append(keys, s)
	}
	return keys, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
