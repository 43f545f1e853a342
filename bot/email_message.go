package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// loadMailTemplate parses name from dir if it has such a file, else the
// embedded one.
func loadMailTemplate(name, dir string) (*template.Template, error) {
	var text []byte
	var err error
	source := "embedded " + name
	if dir != "" {
		st, serr := os.Stat(dir)
		if serr != nil || !st.IsDir() {
			return nil, fmt.Errorf("mail: template directory %s: not a readable directory: %w", dir, ErrMailConfig)
		}
		path := filepath.Join(dir, name)
		text, err = os.ReadFile(path)
		switch {
		case err == nil:
			source = path
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("mail: read template %s: %w: %w", path, err, ErrMailConfig)
		}
	}
	if text == nil {
		if text, err = mailTemplates.ReadFile("email_templates/" + name); err != nil {
			return nil, fmt.Errorf("mail: read %s: %w", source, err)
		}
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, fmt.Errorf("mail: parse template %s: %w: %w", source, err, ErrMailConfig)
	}
	// Render a sample now, so a template naming an unknown field fails
	// at start-up rather than when an incident opens.
	if err := t.Execute(new(bytes.Buffer), MailData{Findings: []string{"sample"}, Duration: "0s"}); err != nil {
		return nil, fmt.Errorf("mail: template %s: %w: %w", source, err, ErrMailConfig)
	}
	return t, nil
}

// MailData is what the email templates see. Every text is free of
// secrets: anything that looks like a secret access key or session token
// is replaced before rendering.
type MailData struct {
	Incident     string // "KL-2026-0007"
	AccessKeyID  string // the leaked key's ID (never its secret)
	Severity     string // "CRITICAL", "UNKNOWN"…
	Account      string // empty while being identified
	Owner        string // IAM user, "root" or role session; empty while being identified
	OwnerARN     string
	Reporter     string // "Ana <ana@example.com>"
	Opened       string // "2026-03-02 10:45 UTC"
	Closed       string // on the closing email
	Duration     string // how long it was open, on the closing email: "4m 12s"
	CloseReason  string
	ChatSpaceURL string   // empty while being created
	MeetURL      string   // empty while being created
	Findings     []string // first findings, one per line; empty while identifying
	OpenedFrom   string   // the detector's finding that opened the incident; empty when a person reported it
	FindingURL   string   // where to read that finding
	Canary       bool     // the key is a canary: a trip, nothing to contain
	Report       string   // the report's Markdown, on the closing email; empty if missing

	openedAt time.Time
}

// load reads the incident and its findings into the template data.
func (m *Mailer) load(ctx context.Context, incident, kind string) (MailData, error) {
	var inc state.Incident
	var summary state.Summary
	var report state.ClosingReport
	var summaryErr, reportErr error
	err := m.store.View(func(tx *state.Tx) (err error) {
		if inc, err = tx.Incident(incident); err != nil {
			return err
		}
		summary, summaryErr = tx.Summary(incident)
		if kind == MailClose {
			report, reportErr = tx.ClosingReport(incident)
		}
		return nil
	})
	if err != nil {
		return MailData{}, err
	}
	// A finding that cannot be read is left out of the email, not a reason
	// to hold the email back.
	for what, err := range map[string]error{"summary": summaryErr, "report": reportErr} {
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			m.log.WarnContext(ctx, "unreadable "+what+" finding; emailing without it", "incident", incident, "err", err)
		}
	}
	clean := func(s string) string { s, _ = commands.Redact(s); return s }
	sev := strings.ToUpper(string(inc.Severity))
	if sev == "" {
		sev = strings.ToUpper(string(state.SeverityUnknown))
	}
	d := MailData{
		Incident: inc.ID, AccessKeyID: inc.AccessKeyID, Severity: sev,
		Account: inc.AccountID, Owner: clean(commands.OwnerText(inc.Owner)), OwnerARN: clean(inc.Owner.ARN),
		Reporter: clean(inc.Reporter.String()), Opened: mailTime(inc.OpenedAt),
		Closed: mailTime(inc.ClosedAt), CloseReason: clean(inc.CloseReason),
		ChatSpaceURL: inc.ChatSpaceURL, MeetURL: inc.MeetURL, Canary: inc.Canary, openedAt: inc.OpenedAt,
	}
	if !inc.ClosedAt.IsZero() {
		d.Duration = commands.Duration(inc.ClosedAt.Sub(inc.OpenedAt))
	}
	if det := inc.Detection; det != nil {
		d.OpenedFrom, d.FindingURL = clean(det.Text()), det.URL
	}
	for _, l := range summary.Lines {
		if l = strings.TrimSpace(oneLine(clean(l))); l != "" {
			d.Findings = append(d.Findings, l)
		}
	}
	d.Report = strings.TrimSpace(clean(report.Markdown))
	return d, nil
}

func mailTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

// MailSubject is the subject of the email of kind: the incident ID in
// brackets first, so ticket systems thread the opening and closing emails.
func MailSubject(kind string, d MailData) string {
	s := fmt.Sprintf("[%s] Leaked AWS access key %s — %s", d.Incident, d.AccessKeyID, d.Severity)
	if kind == MailClose {
		s = fmt.Sprintf("[%s] Closed: leaked AWS access key %s — %s", d.Incident, d.AccessKeyID, d.Severity)
	}
	return oneLine(s)
}

// MailMessageID is the Message-ID (without angle brackets) of the email of
// kind about incident: fixed, so a resend is recognisable and the closing
// email can refer to the opening one.
func MailMessageID(incident, kind string) string {
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, incident)
	return id + "." + kind + "@keyleak"
}

// oneLine removes control characters, so no text can add a header line.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// compose builds the email of kind.
func (m *Mailer) compose(kind string, d MailData) (*gomail.Msg, error) {
	name := openTemplate
	if kind == MailClose {
		name = closeTemplate
	}
	var body bytes.Buffer
	if err := m.templates[name].Execute(&body, d); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	msg, err := m.newMessage(MailSubject(kind, d), body.String())
	if err != nil {
		return nil, err
	}
	msg.SetMessageIDWithValue(MailMessageID(d.Incident, kind))
	if kind == MailClose {
		open := "<" + MailMessageID(d.Incident, MailOpen) + ">"
		msg.SetGenHeader(gomail.HeaderInReplyTo, open)
		msg.SetGenHeader(gomail.HeaderReferences, open)
	}
	msg.SetGenHeader("X-Keyleak-Incident", oneLine(d.Incident))
	return msg, nil
}

// newMessage is a plain-text email from keyleak to the configured
// recipients.
func (m *Mailer) newMessage(subject, body string) (*gomail.Msg, error) {
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(m.from)
	if err := msg.To(m.cfg.To...); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	if len(m.cfg.Cc) > 0 {
		if err := msg.Cc(m.cfg.Cc...); err != nil {
			return nil, fmt.Errorf("cc: %w", err)
		}
	}
	msg.Subject(subject)
	msg.SetDateWithValue(m.now())
	msg.SetUserAgent("keyleak")
	msg.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(gomail.TypeTextPlain, body)
	return msg, nil
}
