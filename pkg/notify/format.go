package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stintdev/stint/pkg/config"
	"github.com/stintdev/stint/pkg/fault"
)

// Source is the CloudEvents source of every notification. CloudEvents
// wants a URI-reference; a bare name is one, and it names the sender
// without saying where it runs (a tenant, a host), which the receiver
// knows from its own configuration.
const Source = "stint"

// CloudEvent is a notification in CloudEvents 1.0 structured mode.
type CloudEvent struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            Type      `json:"type"`
	Subject         string    `json:"subject,omitempty"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Data      `json:"data"`
}

// Body encodes n in a format (config.Notify.Format; "" is cloudevents)
// and returns it with its Content-Type.
func Body(format string, n Notification) (body []byte, contentType string, err error) {
	var v any
	contentType = "application/json"
	switch format {
	case config.NotifyCloudEvents, "":
		v, contentType = cloudEvent(n), "application/cloudevents+json"
	case config.NotifyTeams:
		v = teamsMessage(n)
	case config.NotifySlack:
		v = slackMessage(n)
	default:
		return nil, "", fault.Errorf(fault.Invalid, "STINT_NOTIFY_FORMAT %q: want %s, %s or %s", format, config.NotifyCloudEvents, config.NotifyTeams, config.NotifySlack)
	}
	body, err = json.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("notify: encode %q as %s: %w", n.ID, format, err)
	}
	return body, contentType, nil
}

func cloudEvent(n Notification) CloudEvent {
	return CloudEvent{SpecVersion: "1.0", ID: n.ID, Source: Source, Type: n.Type, Subject: n.Subject,
		Time: n.Time.UTC(), DataContentType: "application/json", Data: n.Data}
}

// teamsMessage is what a Teams Workflows webhook ("When a Teams webhook
// request is received", then "Post card in a chat or channel") takes: a
// message whose attachments are Adaptive Cards. Workflows post Adaptive
// Cards only, not the connectors' MessageCard; 1.4 is a version every
// Teams client renders.
func teamsMessage(n Notification) map[string]any {
	body := []map[string]any{
		{"type": "TextBlock", "text": n.Title(), "weight": "Bolder", "size": "Medium", "wrap": true},
		{"type": "TextBlock", "text": n.Text(), "wrap": true},
	}
	if facts := n.Facts(); len(facts) > 0 {
		set := make([]map[string]string, len(facts))
		for i, f := range facts {
			set[i] = map[string]string{"title": f.Title, "value": f.Value}
		}
		body = append(body, map[string]any{"type": "FactSet", "facts": set})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
	}
	return map[string]any{
		"type": "message",
		"attachments": []map[string]any{{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content":     card,
		}},
	}
}

// slackMessage is what a Slack incoming webhook takes: text (the
// notification, shown where blocks are not) and blocks (a header, the
// text, the facts).
func slackMessage(n Notification) map[string]any {
	blocks := []map[string]any{
		{"type": "header", "text": map[string]any{"type": "plain_text", "text": n.Title()}},
		{"type": "section", "text": map[string]any{"type": "plain_text", "text": n.Text()}},
	}
	if facts := n.Facts(); len(facts) > 0 {
		// A section holds at most 10 fields.
		fields := make([]map[string]any, 0, len(facts))
		for _, f := range facts[:min(len(facts), 10)] {
			fields = append(fields, map[string]any{"type": "mrkdwn", "text": "*" + f.Title + "*\n" + slackEscape(f.Value)})
		}
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	}
	return map[string]any{"text": slackEscape(n.Text()), "blocks": blocks}
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// to, so that a value cannot become a link or a mention.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace
