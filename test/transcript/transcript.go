// Package transcript renders what the local Slack, Google Chat and mail
// servers received as the text a responder would read: the demo prints
// it, and end-to-end tests print it when they fail.
package transcript

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// Directory names Slack's IDs the way a Slack client shows them: users by
// their display name, user groups by their handle.
type Directory struct {
	Users  map[string]string // user ID → name shown, e.g. "U0ANA" → "Ana"
	Groups map[string]string // user group ID → handle, e.g. "S0ONCALL" → "security-oncall"
}

// SlackText renders Block Kit blocks (and the fallback text when there
// are none) as plain text, with IDs shown as IDs.
func SlackText(text string, blocks json.RawMessage) string {
	return Directory{}.SlackText(text, blocks)
}

// SlackText renders Block Kit blocks (and the fallback text when there
// are none) as plain text, naming users and groups from d.
func (d Directory) SlackText(text string, blocks json.RawMessage) string {
	var bs []struct {
		Type     string      `json:"type"`
		Text     *slackText  `json:"text"`
		Fields   []slackText `json:"fields"`
		Elements []slackText `json:"elements"`
	}
	if len(blocks) == 0 || json.Unmarshal(blocks, &bs) != nil || len(bs) == 0 {
		return d.markup(text)
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
				out = append(out, d.markup(b.Text.Text))
			}
			var fields []string
			for _, f := range b.Fields {
				label, value, _ := strings.Cut(d.markup(f.Text), "\n")
				fields = append(fields, fmt.Sprintf("%s: %s", label, strings.ReplaceAll(value, "\n", " ")))
			}
			if len(fields) > 0 {
				out = append(out, "  "+strings.Join(fields, "\n  "))
			}
		case "context":
			for _, e := range b.Elements {
				out = append(out, "  ("+d.markup(e.Text)+")")
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
	slackBare    = regexp.MustCompile(`<(https?://[^|>]+)>`)
	slackMention = regexp.MustCompile(`<!subteam\^([A-Z0-9]+)(?:\|([^>]+))?>`)
	slackUser    = regexp.MustCompile(`<@([A-Z0-9]+)(?:\|([^>]+))?>`)
	slackSpecial = regexp.MustCompile(`<!(here|channel|everyone)>`)
	slackDate    = regexp.MustCompile(`<!date\^\d+\^[^|]*\|([^>]+)>`)
	// Emphasis markers around words: *bold*, _italic_, ~strike~, `code`.
	slackEmphasis = regexp.MustCompile("(^|[\\s(])([*_~`])([^\\s*_~`]|[^\\s*_~`][^*_~`\\n]*?[^\\s*_~`])([*_~`])([\\s).,;:!?…]|$)")
	slackEmoji    = regexp.MustCompile(`:([a-z0-9_+-]+):`)
)

// emoji are the shortcodes keyleak uses, as Slack draws them.
var emoji = map[string]string{
	"lock": "🔒", "rotating_light": "🚨", "warning": "⚠️", "white_check_mark": "✅", "x": "❌",
}

// markup turns mrkdwn into what a Slack client shows: a link as its text
// with the URL after it, mentions by name, dates in their fallback form,
// emoji drawn, emphasis markers gone, entities decoded.
func (d Directory) markup(s string) string {
	s = slackLink.ReplaceAllString(s, "$2 ($1)")
	s = slackBare.ReplaceAllString(s, "$1")
	s = slackMention.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackMention.FindStringSubmatch(m)
		switch h, ok := d.Groups[sub[1]]; {
		case ok:
			return "@" + h
		case sub[2] != "":
			return strings.TrimPrefix(sub[2], "@")
		}
		return "@" + sub[1]
	})
	s = slackUser.ReplaceAllStringFunc(s, func(m string) string {
		sub := slackUser.FindStringSubmatch(m)
		if n, ok := d.Users[sub[1]]; ok {
			return "@" + n
		}
		return "@" + sub[1]
	})
	s = slackSpecial.ReplaceAllString(s, "@$1")
	s = slackDate.ReplaceAllString(s, "$1")
	for {
		next := slackEmphasis.ReplaceAllStringFunc(s, func(m string) string {
			sub := slackEmphasis.FindStringSubmatch(m)
			if sub[2] != sub[4] {
				return m
			}
			return sub[1] + sub[3] + sub[5]
		})
		if next == s {
			break
		}
		s = next
	}
	s = slackEmoji.ReplaceAllStringFunc(s, func(m string) string {
		if e, ok := emoji[strings.Trim(m, ":")]; ok {
			return e
		}
		return m
	})
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

// Mail is an email as its reader sees it: the subject decoded, and the
// text of its body, decoded from its transfer encoding (quoted-printable
// or base64) and taken from the text/plain part of a multipart message.
type Mail struct {
	Subject string
	Body    string
}

// ReadMail decodes a message as received by an SMTP server.
func ReadMail(data []byte) (Mail, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return Mail{}, fmt.Errorf("read mail: %w", err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return Mail{}, fmt.Errorf("decode subject: %w", err)
	}
	body, err := mailText(textproto.MIMEHeader(msg.Header), msg.Body)
	if err != nil {
		return Mail{}, err
	}
	return Mail{Subject: subject, Body: strings.ReplaceAll(body, "\r\n", "\n")}, nil
}

// mailText is the text of one MIME entity: its own body, or its first
// text/plain part.
func mailText(h textproto.MIMEHeader, r io.Reader) (string, error) {
	ctype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		ctype = "text/plain" // RFC 2045's default
	}
	if strings.HasPrefix(ctype, "multipart/") {
		parts := multipart.NewReader(r, params["boundary"])
		for {
			p, err := parts.NextRawPart()
			if errors.Is(err, io.EOF) {
				return "", errors.New("no text/plain part in the message")
			}
			if err != nil {
				return "", fmt.Errorf("read mail part: %w", err)
			}
			if t, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); t == "text/plain" || strings.HasPrefix(t, "multipart/") {
				return mailText(p.Header, p)
			}
		}
	}
	switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &lineJoiner{r: r})
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("decode mail body: %w", err)
	}
	return string(b), nil
}

// lineJoiner drops the line breaks of a base64 body.
type lineJoiner struct{ r io.Reader }

func (l *lineJoiner) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	out := p[:0]
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			out = append(out, c)
		}
	}
	return len(out), err
}
