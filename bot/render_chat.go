package bot

import (
	"encoding/json"
	"html"
	"strings"

	chat "google.golang.org/api/chat/v1"

	"github.com/keyleak/keyleak/commands"
)

// chatMessageMax is Google Chat's limit on a message body.
const chatMessageMax = 32000

// ChatMessage renders a neutral reply for Google Chat: plain text when it
// is only text, otherwise a Cards v2 card with the text as fallback.
func ChatMessage(r commands.Reply, cardID string) *chat.Message {
	m := &chat.Message{FallbackText: clip(fallbackText(r), 4000)}
	if r.Title == "" && len(r.Fields) == 0 && len(r.Sections) == 0 && len(r.Buttons) == 0 && len(r.Warnings) == 0 {
		text := r.Text
		if r.Problem {
			text = "⚠️ " + text
		}
		m.Text = clip(text, chatMessageMax/2)
		return m
	}
	m.CardsV2 = []*chat.CardWithId{{CardId: cardID, Card: ChatCard(r)}}
	// A card too large for a message loses its folded sections first.
	if size(m) > chatMessageMax {
		slim := r
		slim.Sections = nil
		for _, s := range r.Sections {
			if !s.Folded {
				slim.Sections = append(slim.Sections, s)
			}
		}
		slim.Sections = append(slim.Sections, commands.Section{Title: "More", Lines: []string{"Details were too long for one message; see the report."}})
		m.CardsV2[0].Card = ChatCard(slim)
	}
	return m
}

func size(m *chat.Message) int {
	b, _ := json.Marshal(m)
	return len(b)
}

// ChatCard renders a reply as a card: the title as its header, the text
// first, facts as labelled rows, each section (folded ones collapsible),
// and the buttons last.
func ChatCard(r commands.Reply) *chat.GoogleAppsCardV1Card {
	card := &chat.GoogleAppsCardV1Card{}
	if r.Title != "" {
		card.Header = &chat.GoogleAppsCardV1CardHeader{Title: r.Title}
	}
	var top []*chat.GoogleAppsCardV1Widget
	for _, w := range r.Warnings {
		top = append(top, paragraph("<b>⚠️ "+escapeChat(w)+"</b>"))
	}
	if r.Text != "" {
		text := escapeChat(r.Text)
		if r.Problem {
			text = "⚠️ " + text
		}
		top = append(top, paragraph(text))
	}
	for _, f := range r.Fields {
		top = append(top, &chat.GoogleAppsCardV1Widget{DecoratedText: &chat.GoogleAppsCardV1DecoratedText{
			TopLabel: f.Label, Text: linkify(f.Value), WrapText: true,
		}})
	}
	if len(top) > 0 {
		card.Sections = append(card.Sections, &chat.GoogleAppsCardV1Section{Widgets: top})
	}
	for _, s := range r.Sections {
		lines := make([]string, len(s.Lines))
		for i, l := range s.Lines {
			lines[i] = escapeChat(l)
		}
		sec := &chat.GoogleAppsCardV1Section{
			Header:  escapeChat(s.Title),
			Widgets: []*chat.GoogleAppsCardV1Widget{paragraph(strings.Join(lines, "<br>"))},
		}
		if s.Folded {
			sec.Collapsible = true
			sec.UncollapsibleWidgetsCount = 0
		}
		card.Sections = append(card.Sections, sec)
	}
	if len(r.Buttons) > 0 {
		var buttons []*chat.GoogleAppsCardV1Button
		for _, b := range r.Buttons {
			btn := &chat.GoogleAppsCardV1Button{
				Text: b.Label,
				OnClick: &chat.GoogleAppsCardV1OnClick{Action: &chat.GoogleAppsCardV1Action{
					Function:   b.Command,
					Parameters: []*chat.GoogleAppsCardV1ActionParameter{{Key: "args", Value: strings.Join(b.Args, " ")}},
				}},
			}
			switch b.Style {
			case "primary":
				btn.Type = "FILLED"
			case "danger":
				btn.Type = "OUTLINED"
			}
			buttons = append(buttons, btn)
		}
		card.Sections = append(card.Sections, &chat.GoogleAppsCardV1Section{
			Widgets: []*chat.GoogleAppsCardV1Widget{{ButtonList: &chat.GoogleAppsCardV1ButtonList{Buttons: buttons}}},
		})
	}
	return card
}

func paragraph(text string) *chat.GoogleAppsCardV1Widget {
	return &chat.GoogleAppsCardV1Widget{TextParagraph: &chat.GoogleAppsCardV1TextParagraph{Text: text}}
}

// escapeChat makes text safe in a card's HTML subset.
func escapeChat(s string) string {
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// linkify escapes a value and turns a lone http(s) URL into a link.
func linkify(v string) string {
	if (strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://")) && !strings.ContainsAny(v, " \n\"<>") {
		return `<a href="` + html.EscapeString(v) + `">` + html.EscapeString(v) + `</a>`
	}
	return escapeChat(v)
}
