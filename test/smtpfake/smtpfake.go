// Package smtpfake is a local SMTP server for keyleak's tests and demo. It
// listens on 127.0.0.1, optionally speaks STARTTLS or implicit TLS with a
// self-signed certificate made in memory, optionally requires AUTH PLAIN,
// records every message it accepts and can be told to refuse the next
// messages with a temporary (4xx) or permanent (5xx) reply.
package smtpfake

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strconv"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes of the server.
const (
	TLSNone     = "none"     // plain text; AUTH is allowed without TLS (tests only)
	TLSStartTLS = "starttls" // plain text upgraded by STARTTLS
	TLSImplicit = "tls"      // TLS from the first byte (port 465 style)
)

// Options configure a Server.
type Options struct {
	// TLS is TLSNone (the default), TLSStartTLS or TLSImplicit.
	TLS string
	// Username and Password, when Username is set, make AUTH PLAIN with
	// exactly these credentials mandatory before MAIL FROM.
	Username string
	Password string
	// MaxMessageBytes caps a message's size; zero means 10 MiB.
	MaxMessageBytes int64
}

// Message is one message the server accepted.
type Message struct {
	From     string      // envelope sender (MAIL FROM)
	To       []string    // envelope recipients (RCPT TO)
	Data     []byte      // the message as received, headers and body
	Header   mail.Header // Data's header, parsed; nil if it did not parse
	TLS      bool        // the session was encrypted
	AuthUser string      // the authenticated user, if any
	At       time.Time
}

// Refusal describes one refused attempt.
type Refusal struct {
	Code int
	From string
	To   []string
}

// Server is a running fake SMTP server.
type Server struct {
	srv      *smtp.Server
	addr     *net.TCPAddr
	ln       net.Listener
	pool     *x509.CertPool
	opts     Options
	serveErr chan error
	close    sync.Once
	closeErr error

	mu        sync.Mutex
	messages  []Message
	refusals  []Refusal
	refuseN   int
	refuseErr *smtp.SMTPError
}

// ErrUnknownTLSMode reports an Options.TLS value that is not a mode.
var ErrUnknownTLSMode = errors.New("unknown TLS mode")

// New starts a server on 127.0.0.1 on a free port. Close stops it.
func New(opts Options) (*Server, error) {
	if opts.TLS == "" {
		opts.TLS = TLSNone
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 10 << 20
	}
	s := &Server{opts: opts, serveErr: make(chan error, 1)}
	s.srv = smtp.NewServer(smtp.BackendFunc(s.newSession))
	s.srv.Domain = "localhost"
	s.srv.MaxMessageBytes = opts.MaxMessageBytes
	s.srv.MaxRecipients = 100
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.ErrorLog = discardLogger{}

	var tlsConfig *tls.Config
	switch opts.TLS {
	case TLSNone:
		s.srv.AllowInsecureAuth = true
	case TLSStartTLS, TLSImplicit:
		cert, pool, err := selfSigned(time.Now())
		if err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.pool = pool
		s.srv.TLSConfig = tlsConfig
	default:
		return nil, fmt.Errorf("smtpfake: TLS %q (want %q, %q or %q): %w", opts.TLS, TLSNone, TLSStartTLS, TLSImplicit, ErrUnknownTLSMode)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtpfake: listen: %w", err)
	}
	s.addr = l.Addr().(*net.TCPAddr)
	if opts.TLS == TLSImplicit {
		l = tls.NewListener(l, tlsConfig)
	}
	s.ln = l
	go func() { // owned by s: Close waits for it
		s.serveErr <- s.srv.Serve(l)
	}()
	return s, nil
}

// Addr is the server's address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr.String() }

// Host is the server's IP address, "127.0.0.1".
func (s *Server) Host() string { return s.addr.IP.String() }

// Port is the server's TCP port.
func (s *Server) Port() int { return s.addr.Port }

// CertPool holds the server's self-signed certificate, for a client to
// trust; nil without TLS.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns a copy of every message accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.messages))
	for i, m := range s.messages {
		m.To = append([]string(nil), m.To...)
		m.Data = bytes.Clone(m.Data)
		out[i] = m
	}
	return out
}

// Refusals returns every attempt refused so far, in order.
func (s *Server) Refusals() []Refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Refusal, len(s.refusals))
	for i, r := range s.refusals {
		r.To = append([]string(nil), r.To...)
		out[i] = r
	}
	return out
}

// Refuse makes the server refuse the next n messages at the end of DATA
// (after reading them, as a server that checks content does) with code:
// a 4xx code asks the sender to try again later, a 5xx code refuses for
// good. The reply text names the code's meaning.
func (s *Server) Refuse(n, code int) {
	text := "Requested action aborted: try again later"
	enhanced := smtp.EnhancedCode{4, 3, 0}
	if code >= 500 {
		text = "Message rejected: mailbox unavailable"
		enhanced = smtp.EnhancedCode{5, 7, 1}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseN = n
	s.refuseErr = &smtp.SMTPError{Code: code, EnhancedCode: enhanced, Message: text}
}

// Close stops the server, closes open connections and waits for it. It
// is safe to call twice.
func (s *Server) Close() error {
	s.close.Do(func() {
		err := s.srv.Close()
		if errors.Is(err, smtp.ErrServerClosed) {
			err = nil
		}
		// Serve may not have registered the listener yet; closing it
		// here ends Serve either way.
		_ = s.ln.Close()
		if serr := <-s.serveErr; serr != nil && !errors.Is(serr, smtp.ErrServerClosed) && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
		s.closeErr = err
	})
	return s.closeErr
}

// record stores an accepted message or applies a pending refusal.
func (s *Server) record(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseN > 0 {
		s.refuseN--
		s.refusals = append(s.refusals, Refusal{Code: s.refuseErr.Code, From: m.From, To: m.To})
		return s.refuseErr
	}
	s.messages = append(s.messages, m)
	return nil
}

func (s *Server) newSession(c *smtp.Conn) (smtp.Session, error) {
	_, isTLS := c.TLSConnectionState()
	base := &session{server: s, tls: isTLS, needAuth: s.opts.Username != ""}
	if !base.needAuth {
		return base, nil
	}
	return &authSession{session: base}, nil
}

// session is one SMTP connection without authentication.
type session struct {
	server   *Server
	tls      bool
	authUser string
	needAuth bool // AUTH must succeed before MAIL FROM
	from     string
	to       []string
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.needAuth && s.authUser == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{
		From: s.from, To: append([]string(nil), s.to...), Data: data,
		TLS: s.tls, AuthUser: s.authUser, At: time.Now(),
	}
	if parsed, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		m.Header = parsed.Header
	}
	return s.server.record(m)
}

func (s *session) Reset() {
	s.from = ""
	s.to = nil
}

func (s *session) Logout() error { return nil }

// authSession requires AUTH PLAIN with the configured credentials.
type authSession struct {
	*session
}

func (a *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (a *authSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		opts := a.server.opts
		userOK := subtle.ConstantTimeCompare([]byte(username), []byte(opts.Username)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(password), []byte(opts.Password)) == 1
		if !userOK || !passOK || (identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		a.authUser = username
		return nil
	}), nil
}

// selfSigned makes a certificate for 127.0.0.1 and localhost valid around
// now, and a pool that trusts it.
func selfSigned(now time.Time) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtpfake: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtpfake: serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smtpfake " + strconv.FormatInt(serial.Int64(), 16)},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtpfake: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("smtpfake: parse certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// discardLogger drops go-smtp's connection error logs; tests read what
// matters through Messages and Refusals.
type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}
