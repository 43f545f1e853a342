package bot

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/textproto"
	"strconv"
	"text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/keyleak/keyleak/commands"
	"github.com/keyleak/keyleak/state"
)

// Email kinds delivered on commands.ChannelEmail.
const (
	MailOpen  = commands.NoticeOpenMail // the opening email to InfoSec
	MailClose = "close"                 // the closing email with the report
)

// Mail TLS modes.
const (
	MailStartTLS = "starttls" // plain connection upgraded by STARTTLS, which is mandatory (port 587)
	MailTLS      = "tls"      // TLS from the first byte (port 465)
	MailNoTLS    = "none"     // no encryption: for a relay on the same host or network only
)

// MailConfig says where and to whom the InfoSec emails go.
type MailConfig struct {
	Host        string // SMTP server; empty when a RawSender is used
	Port        int    // 0 means 587, 465 or 25 by TLS mode
	TLS         string // MailStartTLS (the default when empty), MailTLS or MailNoTLS
	Username    string // AUTH PLAIN or LOGIN when set
	Password    string // never logged or printed
	From        string // "keyleak <keyleak@example.com>"
	To          []string
	Cc          []string
	TemplateDir string // files here named like the embedded templates replace them
}

// String describes the configuration without the password.
func (c MailConfig) String() string {
	return fmt.Sprintf("MailConfig{Host: %q, Port: %d, TLS: %q, Username: %q, Password: %s, From: %q, To: %q, Cc: %q, TemplateDir: %q}",
		c.Host, c.Port, c.TLS, c.Username, redacted(c.Password), c.From, c.To, c.Cc, c.TemplateDir)
}

// GoString keeps %#v from printing the password.
func (c MailConfig) GoString() string { return c.String() }

// LogValue logs the configuration without the password.
func (c MailConfig) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host), slog.Int("port", c.Port), slog.String("tls", c.TLS),
		slog.String("username", c.Username), slog.String("password", redacted(c.Password)),
		slog.String("from", c.From), slog.Any("to", c.To), slog.Any("cc", c.Cc),
	)
}

func redacted(s string) string {
	if s == "" {
		return "[none]"
	}
	return "[redacted]"
}

// RawSender hands a complete message to a mail service other than SMTP,
// such as Amazon SES. An error with a method Retryable() bool answering
// false is permanent; any other error is retried.
type RawSender interface {
	SendRaw(ctx context.Context, from string, to []string, raw []byte) (messageID string, err error)
}

// MailerOption configures a Mailer.
type MailerOption func(*Mailer)

// WithRawSender sends through rs instead of SMTP.
func WithRawSender(rs RawSender) MailerOption { return func(m *Mailer) { m.raw = rs } }

// WithMailTLSConfig sets the TLS configuration of SMTP connections, for
// example to trust a private CA. ServerName defaults to the host.
func WithMailTLSConfig(c *tls.Config) MailerOption { return func(m *Mailer) { m.tlsConfig = c } }

// WithMailTimeout bounds connecting and each SMTP command; default 15s.
func WithMailTimeout(d time.Duration) MailerOption { return func(m *Mailer) { m.timeout = d } }

// WithMailClock sets the clock of the Date header.
func WithMailClock(now func() time.Time) MailerOption { return func(m *Mailer) { m.now = now } }

// WithRoomWait holds the opening email until the incident's Chat space
// exists, so that it carries the links, for at most d after the incident
// opened; past that it goes without them. Use it when the war room is
// configured.
func WithRoomWait(d time.Duration) MailerOption { return func(m *Mailer) { m.roomWait = d } }

// Mailer is the notifier of commands.ChannelEmail: it emails InfoSec when
// an incident opens and again, with the report, when it closes.
type Mailer struct {
	cfg       MailConfig
	from      *mail.Address
	rcpts     []string // envelope recipients: To then Cc
	store     *state.Store
	log       *slog.Logger
	templates map[string]*template.Template
	raw       RawSender
	tlsConfig *tls.Config
	timeout   time.Duration
	now       func() time.Time
	roomWait  time.Duration
}

//go:embed email_templates/*.tmpl
var mailTemplates embed.FS

// Template names, in email_templates and in MailConfig.TemplateDir.
const (
	openTemplate  = "open.txt.tmpl"
	closeTemplate = "close.txt.tmpl"
)

// ErrMailConfig marks an invalid MailConfig.
var ErrMailConfig = errors.New("invalid mail configuration")

// NewMailer validates cfg, loads the templates and returns the mailer.
func NewMailer(cfg MailConfig, store *state.Store, log *slog.Logger, opts ...MailerOption) (*Mailer, error) {
	m := &Mailer{cfg: cfg, store: store, log: log, timeout: 15 * time.Second, now: time.Now}
	for _, o := range opts {
		o(m)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	m.templates = map[string]*template.Template{}
	for _, name := range []string{openTemplate, closeTemplate} {
		t, err := loadMailTemplate(name, cfg.TemplateDir)
		if err != nil {
			return nil, err
		}
		m.templates[name] = t
	}
	return m, nil
}

// validate checks the configuration and fills in the defaults.
func (m *Mailer) validate() error {
	c := &m.cfg
	bad := func(format string, args ...any) error {
		return fmt.Errorf("mail: "+format+": %w", append(args, ErrMailConfig)...)
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return bad("from %q is not an email address (%v)", c.From, err)
	}
	m.from = from
	if len(c.To) == 0 {
		return bad("no recipients: set to (the InfoSec addresses)")
	}
	m.rcpts = nil
	for _, list := range []struct {
		name  string
		addrs []string
	}{{"to", c.To}, {"cc", c.Cc}} {
		for _, a := range list.addrs {
			addr, err := mail.ParseAddress(a)
			if err != nil {
				return bad("%s %q is not an email address (%v)", list.name, a, err)
			}
			m.rcpts = append(m.rcpts, addr.Address)
		}
	}
	if m.timeout <= 0 {
		return bad("timeout %s must be positive", m.timeout)
	}
	if m.raw != nil {
		return nil
	}
	if c.Host == "" {
		return bad("no SMTP host")
	}
	if c.TLS == "" {
		c.TLS = MailStartTLS
	}
	defaultPort := map[string]int{MailStartTLS: 587, MailTLS: 465, MailNoTLS: 25}
	port, ok := defaultPort[c.TLS]
	if !ok {
		return bad("tls %q: want %q, %q or %q", c.TLS, MailStartTLS, MailTLS, MailNoTLS)
	}
	if c.Port == 0 {
		c.Port = port
	}
	if c.Port < 1 || c.Port > 65535 {
		return bad("port %d out of range", c.Port)
	}
	if c.Password != "" && c.Username == "" {
		return bad("a password is set without a username")
	}
	if c.Username != "" && c.TLS == MailNoTLS && !loopback(c.Host) {
		return bad("username set with tls %q to %s: the password would cross the network in clear", MailNoTLS, c.Host)
	}
	return nil
}

// loopback reports whether host is one the SMTP client sends credentials
// to without TLS.
func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Deliver sends the email msg asks for. An email sent again after a crash
// has the same Message-ID, so mail systems and ticket queues can tell it
// is a duplicate.
func (m *Mailer) Deliver(ctx context.Context, msg state.Message) (retry bool, err error) {
	n, err := commands.DecodeNotice(msg)
	if err != nil {
		return false, err
	}
	if n.Kind != MailOpen && n.Kind != MailClose {
		return false, fmt.Errorf("email message %d: unknown kind %q", msg.ID, n.Kind)
	}
	data, err := m.load(ctx, n.Incident, n.Kind)
	if err != nil {
		return !errors.Is(err, state.ErrNotFound), fmt.Errorf("email %s of %s: %w", n.Kind, n.Incident, err)
	}
	if n.Kind == MailOpen && data.ChatSpaceURL == "" && m.now().Sub(data.openedAt) < m.roomWait {
		return false, &commands.Reschedule{After: 500 * time.Millisecond} // the space is being created
	}
	email, err := m.compose(n.Kind, data)
	if err != nil {
		return false, fmt.Errorf("email %s of %s: %w", n.Kind, n.Incident, err)
	}
	log := m.log.With("incident", n.Incident, "kind", n.Kind, "message_id", email.GetMessageID())
	if m.raw != nil {
		var buf bytes.Buffer
		if _, err := email.WriteTo(&buf); err != nil {
			return false, fmt.Errorf("email %s of %s: render: %w", n.Kind, n.Incident, err)
		}
		id, err := m.raw.SendRaw(ctx, m.from.Address, m.rcpts, buf.Bytes())
		if err != nil {
			var r interface{ Retryable() bool }
			return !errors.As(err, &r) || r.Retryable(), fmt.Errorf("email %s of %s: %w", n.Kind, n.Incident, err)
		}
		log.InfoContext(ctx, "email sent", "service_id", id)
		return false, nil
	}
	if err := m.sendSMTP(ctx, email); err != nil {
		if email.IsDelivered() {
			// The server took the message; only the goodbye failed.
			log.WarnContext(ctx, "email sent; closing the SMTP connection failed", "err", err)
			return false, nil
		}
		return smtpRetryable(err), fmt.Errorf("email %s of %s via %s: %w", n.Kind, n.Incident, net.JoinHostPort(m.cfg.Host, strconv.Itoa(m.cfg.Port)), err)
	}
	log.InfoContext(ctx, "email sent")
	return false, nil
}

// sendSMTP delivers email over one SMTP connection.
func (m *Mailer) sendSMTP(ctx context.Context, email *gomail.Msg) error {
	c, err := m.smtpClient()
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, email)
}

// smtpClient is a client for the configured server.
func (m *Mailer) smtpClient() (*gomail.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.tlsConfig != nil {
		tlsConfig = m.tlsConfig.Clone()
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = m.cfg.Host
	}
	opts := []gomail.Option{gomail.WithPort(m.cfg.Port), gomail.WithTimeout(m.timeout), gomail.WithTLSConfig(tlsConfig)}
	switch m.cfg.TLS {
	case MailTLS:
		opts = append(opts, gomail.WithSSL())
	case MailNoTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.cfg.Username != "" {
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin),
			gomail.WithUsername(m.cfg.Username), gomail.WithPassword(m.cfg.Password))
	}
	c, err := gomail.NewClient(m.cfg.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return c, nil
}

// smtpRetryable decides whether a failed send is worth retrying: SMTP 4xx
// replies, refused connections, timeouts and dropped connections are
// passing; 5xx replies (a rejected message or sender, failed
// authentication) and an untrusted certificate need someone to act.
func smtpRetryable(err error) bool {
	var sendErr *gomail.SendError
	var reply *textproto.Error
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &sendErr) && sendErr.ErrorCode() != 0:
		return sendErr.ErrorCode() < 500
	case errors.As(err, &reply):
		return reply.Code < 500
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr):
		return false
	default:
		return true
	}
}
