// Package transcript renders what the local Slack, Google Chat and mail
// servers received as the text a responder would read: the demo prints
// it, and end-to-end tests print it when they fail.
package transcript

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"
)

// SlackText renders Block Kit blocks (and the fallback text when there
// are none) as plain text.
func SlackText(text string, blocks json.RawMessage) string {
	var bs []struct {
		Type     string      `json:"type"`
		Text     *slackText  `json:"text"`
		Fields   []slackText `json:"fields"`
		Elements []slackText `json:"elements"`
	}
	if len(blocks) == 0 || json.Unmarshal(blocks, &bs) != nil || len(bs) == 0 {
		return slackMarkup(text)
	}
	var out []string
	for _, b := range bs {
		switch b.Type {
		case "header":
			if b.Text != nil {
				out = append(out, "== "+b.Text.Text+" ==")
			}
		case "section":
			if b.Text != nil {
				out = append(out, slackMarkup(b.Text.Text))
			}
			var fields []string
			for _, f := range b.Fields {
				label, value, _ := strings.Cut(slackMarkup(f.Text), "\n")
				fields = append(fields, fmt.Sprintf("%s: %s", strings.Trim(label, "*"), strings.ReplaceAll(value, "\n", " ")))
			}
			if len(fields) > 0 {
				out = append(out, "  "+strings.Join(fields, "\n  "))
			}
		case "context":
			for _, e := range b.Elements {
				out = append(out, "  ("+slackMarkup(e.Text)+")")
			}
		case "divider":
			out = append(out, "----")
		}
	}
	return strings.Join(out, "\n")
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

var (
	slackLink    = regexp.MustCompile(`<(https?://[^|>]+)\|([^>]+)>`)
	slackMention = regexp.MustCompile(`<!subteam\^[A-Z0-9]+>`)
	slackUser    = regexp.MustCompile(`<@([A-Z0-9]+)>`)
	slackDate    = regexp.MustCompile(`<!date\^\d+\^[^|]*\|([^>]+)>`)
)

// slackMarkup turns mrkdwn into text: links show their URL, mentions are
// named, entities decoded.
func slackMarkup(s string) string {
	s = slackLink.ReplaceAllString(s, "$2 ($1)")
	s = slackMention.ReplaceAllString(s, "@security-oncall")
	s = slackUser.ReplaceAllString(s, "@$1")
	s = slackDate.ReplaceAllString(s, "$1")
	return html.UnescapeString(s)
}

// ChatText renders a Google Chat message (text, or Cards v2 JSON) as
// plain text: the card's header, facts as "label: value", sections, and
// buttons in brackets.
func ChatText(text string, cardsV2 json.RawMessage) string {
	var cards []struct {
		Card struct {
			Header *struct {
				Title    string `json:"title"`
				Subtitle string `json:"subtitle"`
			} `json:"header"`
			Sections []struct {
				Header      string `json:"header"`
				Collapsible bool   `json:"collapsible"`
				Widgets     []struct {
					TextParagraph *struct {
						Text string `json:"text"`
					} `json:"textParagraph"`
					DecoratedText *struct {
						TopLabel string `json:"topLabel"`
						Text     string `json:"text"`
					} `json:"decoratedText"`
					ButtonList *struct {
						Buttons []struct {
							Text string `json:"text"`
						} `json:"buttons"`
					} `json:"buttonList"`
				} `json:"widgets"`
			} `json:"sections"`
		} `json:"card"`
	}
	if len(cardsV2) == 0 || json.Unmarshal(cardsV2, &cards) != nil || len(cards) == 0 {
		return chatMarkup(text)
	}
	var out []string
	for _, c := range cards {
		if h := c.Card.Header; h != nil {
			out = append(out, "== "+chatMarkup(h.Title)+" ==")
		}
		for _, s := range c.Card.Sections {
			if s.Header != "" {
				head := "-- " + chatMarkup(s.Header)
				if s.Collapsible {
					head += " (folded)"
				}
				out = append(out, head)
			}
			for _, w := range s.Widgets {
				switch {
				case w.TextParagraph != nil:
					out = append(out, indent(chatMarkup(w.TextParagraph.Text)))
				case w.DecoratedText != nil:
					out = append(out, "  "+chatMarkup(w.DecoratedText.TopLabel)+": "+chatMarkup(w.DecoratedText.Text))
				case w.ButtonList != nil:
					var bs []string
					for _, b := range w.ButtonList.Buttons {
						bs = append(bs, "["+b.Text+"]")
					}
					out = append(out, "  "+strings.Join(bs, " "))
				}
			}
		}
	}
	return strings.Join(out, "\n")
}

var (
	chatLink = regexp.MustCompile(`<a href="([^"]+)">([^<]*)</a>`)
	chatTag  = regexp.MustCompile(`</?[a-z][^>]*>`)
)

func chatMarkup(s string) string {
	s = strings.ReplaceAll(s, "<br>", "\n")
	s = chatLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := chatLink.FindStringSubmatch(m)
		if sub[1] == sub[2] {
			return sub[1]
		}
		return sub[2] + " (" + sub[1] + ")"
	})
	s = chatTag.ReplaceAllString(s, "")
	return html.UnescapeString(s)
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}
