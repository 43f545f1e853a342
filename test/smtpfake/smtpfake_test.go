package smtpfake_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"

	"github.com/keyleak/keyleak/test/smtpfake"
)

func newServer(tb testing.TB, opts smtpfake.Options) *smtpfake.Server {
	tb.Helper()
	s, err := smtpfake.New(opts)
	if err != nil {
		tb.Fatalf("start fake SMTP server: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close fake SMTP server: %v", err)
		}
	})
	return s
}

// client is how a test reaches the server.
type client struct {
	startTLS bool
	implicit bool
	pool     *x509.CertPool
	user     string
	password string
}

const testMessage = "From: keyleak@example.com\r\nTo: infosec@example.com\r\nSubject: [KL-2026-0001] test\r\n\r\nhello\r\n"

// send delivers testMessage through s and returns the first error.
func send(tb testing.TB, s *smtpfake.Server, c client) error {
	tb.Helper()
	tlsConfig := &tls.Config{ServerName: s.Host(), RootCAs: c.pool, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	var err error
	if c.implicit {
		conn, err = tls.Dial("tcp", s.Addr(), tlsConfig)
	} else {
		conn, err = net.Dial("tcp", s.Addr())
	}
	if err != nil {
		return err
	}
	cl, err := smtp.NewClient(conn, s.Host())
	if err != nil {
		conn.Close()
		return err
	}
	defer cl.Close()
	if c.startTLS {
		if err := cl.StartTLS(tlsConfig); err != nil {
			return err
		}
	}
	if c.user != "" {
		if err := cl.Auth(smtp.PlainAuth("", c.user, c.password, s.Host())); err != nil {
			return err
		}
	}
	if err := cl.Mail("keyleak@example.com"); err != nil {
		return err
	}
	if err := cl.Rcpt("infosec@example.com"); err != nil {
		return err
	}
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(testMessage)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return cl.Quit()
}

func smtpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

func TestServerRecords(t *testing.T) {
	cases := []struct {
		name     string
		opts     smtpfake.Options
		client   func(s *smtpfake.Server) client
		wantTLS  bool
		wantUser string
	}{
		{
			name:   "plain",
			opts:   smtpfake.Options{},
			client: func(*smtpfake.Server) client { return client{} },
		},
		{
			name:     "plain with auth",
			opts:     smtpfake.Options{Username: "bot", Password: "pw-plain"},
			client:   func(*smtpfake.Server) client { return client{user: "bot", password: "pw-plain"} },
			wantUser: "bot",
		},
		{
			name: "starttls with auth",
			opts: smtpfake.Options{TLS: smtpfake.TLSStartTLS, Username: "bot", Password: "pw-tls"},
			client: func(s *smtpfake.Server) client {
				return client{startTLS: true, pool: s.CertPool(), user: "bot", password: "pw-tls"}
			},
			wantTLS:  true,
			wantUser: "bot",
		},
		{
			name:    "implicit tls",
			opts:    smtpfake.Options{TLS: smtpfake.TLSImplicit},
			client:  func(s *smtpfake.Server) client { return client{implicit: true, pool: s.CertPool()} },
			wantTLS: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts)
			if err := send(t, s, tc.client(s)); err != nil {
				t.Fatalf("send: %v", err)
			}
			msgs := s.Messages()
			if got, want := len(msgs), 1; got != want {
				t.Fatalf("messages: got %d, want %d", got, want)
			}
			m := msgs[0]
			if got, want := m.From, "keyleak@example.com"; got != want {
				t.Errorf("envelope from: got %q, want %q", got, want)
			}
			if got, want := strings.Join(m.To, ","), "infosec@example.com"; got != want {
				t.Errorf("envelope to: got %q, want %q", got, want)
			}
			if got, want := string(m.Data), testMessage; got != want {
				t.Errorf("data: got %q, want %q", got, want)
			}
			if got, want := m.Header.Get("Subject"), "[KL-2026-0001] test"; got != want {
				t.Errorf("subject: got %q, want %q", got, want)
			}
			if got, want := m.TLS, tc.wantTLS; got != want {
				t.Errorf("tls: got %v, want %v", got, want)
			}
			if got, want := m.AuthUser, tc.wantUser; got != want {
				t.Errorf("auth user: got %q, want %q", got, want)
			}
		})
	}
}

func TestServerRejects(t *testing.T) {
	cases := []struct {
		name     string
		opts     smtpfake.Options
		client   func(s *smtpfake.Server) client
		wantCode int // 0: any error without an SMTP code
	}{
		{
			name:     "wrong password",
			opts:     smtpfake.Options{Username: "bot", Password: "right"},
			client:   func(*smtpfake.Server) client { return client{user: "bot", password: "wrong"} },
			wantCode: 535,
		},
		{
			name:     "wrong user",
			opts:     smtpfake.Options{Username: "bot", Password: "right"},
			client:   func(*smtpfake.Server) client { return client{user: "eve", password: "right"} },
			wantCode: 535,
		},
		{
			name:     "mail without auth",
			opts:     smtpfake.Options{Username: "bot", Password: "right"},
			client:   func(*smtpfake.Server) client { return client{} },
			wantCode: 502,
		},
		{
			name: "auth before starttls",
			opts: smtpfake.Options{TLS: smtpfake.TLSStartTLS, Username: "bot", Password: "right"},
			client: func(*smtpfake.Server) client {
				return client{user: "bot", password: "right"}
			},
			wantCode: 523,
		},
		{
			name:   "untrusted certificate",
			opts:   smtpfake.Options{TLS: smtpfake.TLSStartTLS},
			client: func(*smtpfake.Server) client { return client{startTLS: true, pool: x509.NewCertPool()} },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts)
			err := send(t, s, tc.client(s))
			if err == nil {
				t.Fatal("send succeeded; want an error")
			}
			if got, want := smtpCode(err), tc.wantCode; got != want {
				t.Errorf("SMTP code: got %d (%v), want %d", got, err, want)
			}
			if got := len(s.Messages()); got != 0 {
				t.Errorf("messages recorded: got %d, want 0", got)
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		code  int
		sends int
	}{
		{name: "two temporary refusals", n: 2, code: 451, sends: 3},
		{name: "one permanent refusal", n: 1, code: 550, sends: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, smtpfake.Options{})
			s.Refuse(tc.n, tc.code)
			var codes []int
			for range tc.sends {
				codes = append(codes, smtpCode(send(t, s, client{})))
			}
			for i, got := range codes {
				want := 0
				if i < tc.n {
					want = tc.code
				}
				if got != want {
					t.Errorf("attempt %d: got SMTP code %d, want %d", i+1, got, want)
				}
			}
			if got, want := len(s.Refusals()), tc.n; got != want {
				t.Errorf("refusals: got %d, want %d", got, want)
			}
			if got, want := len(s.Messages()), tc.sends-tc.n; got != want {
				t.Errorf("messages: got %d, want %d", got, want)
			}
		})
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := smtpfake.New(smtpfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Errorf("close %d: %v", i+1, err)
		}
	}
	if err := send(t, s, client{}); err == nil {
		t.Error("a closed server accepted a message")
	}
}

func TestUnknownTLSMode(t *testing.T) {
	_, err := smtpfake.New(smtpfake.Options{TLS: "ssl"})
	if !errors.Is(err, smtpfake.ErrUnknownTLSMode) {
		t.Fatalf("got %v, want ErrUnknownTLSMode", err)
	}
}
