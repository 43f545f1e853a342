package bot_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/keyleak/keyleak/bot"
	"github.com/keyleak/keyleak/test/googlefake"
	"github.com/keyleak/keyleak/test/slackfake"
	"github.com/keyleak/keyleak/test/smtpfake"
)

// checkOutcome is what a test expects of one check.
type checkOutcome struct {
	name string
	fail bool
	says []string // in the detail when it passes, in the fix when it fails
}

// matchChecks compares checks with want, in order.
func matchChecks(t *testing.T, got []bot.Check, want []checkOutcome) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d checks, want %d:\n%s", len(got), len(want), describeChecks(got))
	}
	for i, w := range want {
		c := got[i]
		if c.Name != w.name || (c.Err != nil) != w.fail {
			t.Errorf("check %d = %q (err %v), want %q failing %v\n%s", i, c.Name, c.Err, w.name, w.fail, describeChecks(got))
			continue
		}
		text := c.Detail
		if w.fail {
			text = c.Fix
		}
		for _, s := range w.says {
			if !strings.Contains(text, s) {
				t.Errorf("%s: %q does not say %q", c.Name, text, s)
			}
		}
	}
}

func describeChecks(cs []bot.Check) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("  " + c.Name + ": " + c.Detail)
		if c.Err != nil {
			b.WriteString("FAIL " + c.Err.Error() + " | fix: " + c.Fix)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// unusedURL is a loopback URL nothing listens on.
func unusedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestCheckSlack(t *testing.T) {
	group := slackfake.UserGroup{ID: "S0ONCALL", Handle: "security-oncall", Name: "Security on-call", Users: []string{"U0ANA"}}
	tests := []struct {
		name   string
		fake   slackfake.Options
		cfg    func(cfg *bot.PagerConfig, url string)
		checks []checkOutcome
	}{
		{name: "all good", checks: []checkOutcome{
			{name: "slack token", says: []string{"bot @keyleak", "T0"}},
			{name: "slack scopes", says: []string{"channels:history", "chat:write"}},
			{name: "slack channel", says: []string{"C0ONCALL"}},
			{name: "slack on-call group", says: []string{"@security-oncall is S0ONCALL"}},
		}},
		{name: "wrong token", cfg: func(c *bot.PagerConfig, _ string) { c.BotToken = "xoxb-not-the-one" }, checks: []checkOutcome{
			{name: "slack token", fail: true, says: []string{"slack.bot_token", "Bot User OAuth Token (xoxb-…)", "OAuth & Permissions"}},
		}},
		{name: "unreachable API", cfg: func(c *bot.PagerConfig, _ string) { c.APIURL = unusedURL(t) }, checks: []checkOutcome{
			{name: "slack token", fail: true, says: []string{"slack.api_url", "https://slack.com/api/"}},
		}},
		{name: "missing scope", fake: slackfake.Options{Scopes: []string{"commands", "chat:write", "usergroups:read", "users:read", "users:read.email"}}, checks: []checkOutcome{
			{name: "slack token"},
			{name: "slack scopes", fail: true, says: []string{"Bot Token Scopes", "deploy/slack-app-manifest.yaml", "reinstall"}},
			{name: "slack channel", fail: true, says: []string{"add the missing scope"}},
			{name: "slack on-call group"},
		}},
		{name: "channel by name", cfg: func(c *bot.PagerConfig, _ string) { c.Channel = "security-oncall" }, checks: []checkOutcome{
			{name: "slack token"}, {name: "slack scopes"},
			{name: "slack channel", fail: true, says: []string{"slack.page_channel", "ID of the on-call channel"}},
			{name: "slack on-call group"},
		}},
		{name: "bot not in the channel", fake: slackfake.Options{Channels: []slackfake.Channel{{ID: "C0ONCALL", Name: "security-oncall", NotInChannel: true}}}, checks: []checkOutcome{
			{name: "slack token"}, {name: "slack scopes"},
			{name: "slack channel", fail: true, says: []string{"/invite @keyleak"}},
			{name: "slack on-call group"},
		}},
		{name: "unknown group", cfg: func(c *bot.PagerConfig, _ string) { c.OncallGroup = "@sre-oncall" }, checks: []checkOutcome{
			{name: "slack token"}, {name: "slack scopes"}, {name: "slack channel"},
			{name: "slack on-call group", fail: true, says: []string{"slack.oncall_group", "User groups"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.fake
			if o.Channels == nil {
				o.Channels = []slackfake.Channel{{ID: "C0ONCALL", Name: "security-oncall"}}
			}
			o.UserGroups = []slackfake.UserGroup{group}
			fake := slackfake.New(o)
			defer fake.Close()
			cfg := bot.PagerConfig{BotToken: fake.BotToken(), APIURL: fake.URL() + "/api/", Channel: "C0ONCALL", OncallGroup: "security-oncall"}
			if tt.cfg != nil {
				tt.cfg(&cfg, fake.URL())
			}
			matchChecks(t, bot.CheckSlack(t.Context(), cfg), tt.checks)
			if posts := fake.Calls("chat.postMessage"); len(posts) > 0 {
				t.Errorf("the check posted %d messages; it must not page anyone", len(posts))
			}
		})
	}
}

func TestCheckSocketMode(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	defer fake.Close()
	cfg := bot.SocketModeConfig{AppToken: slackfake.DefaultAppToken, BotToken: fake.BotToken(), APIURL: fake.URL()}
	matchChecks(t, []bot.Check{bot.CheckSocketMode(t.Context(), cfg)}, []checkOutcome{{name: "slack socket mode", says: []string{"Socket Mode connection"}}})
	cfg.AppToken = "xapp-wrong"
	matchChecks(t, []bot.Check{bot.CheckSocketMode(t.Context(), cfg)}, []checkOutcome{{name: "slack socket mode", fail: true, says: []string{"slack.app_token", "App-Level Tokens", "connections:write"}}})
	if n := len(fake.Calls("apps.connections.open")); n != 2 {
		t.Errorf("%d calls to apps.connections.open, want 2", n)
	}
}

// tokenServer is Google's OAuth token endpoint for service account keys
// (the JWT bearer grant). It refuses assertions that impersonate a user
// (domain-wide delegation) when delegation is not granted.
type tokenServer struct {
	*httptest.Server
	delegation bool

	mu     sync.Mutex
	claims []map[string]any // the assertions' claims, in order
}

func newTokenServer(t *testing.T, delegation bool) *tokenServer {
	ts := &tokenServer{delegation: delegation}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
			return
		}
		parts := strings.Split(r.Form.Get("assertion"), ".")
		var claims map[string]any
		if len(parts) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if json.Unmarshal(payload, &claims) != nil {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		ts.mu.Lock()
		ts.claims = append(ts.claims, claims)
		ts.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if claims["sub"] != nil && !ts.delegation {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"error":"unauthorized_client","error_description":"Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."}`))
			return
		}
		w.Write([]byte(`{"access_token":"ya29.test","expires_in":3600,"token_type":"Bearer"}`))
	}))
	t.Cleanup(ts.Close)
	return ts
}

// serviceAccountKey writes a service account key file whose token_uri is
// tokenURI.
func serviceAccountKey(t *testing.T, email, clientID, tokenURI string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "keyleak-test", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": clientID, "token_uri": tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCheckRoom checks the Chat app and Meet against the local Google,
// with service account keys whose tokens come from a local token endpoint,
// as the real bot gets them.
func TestCheckRoom(t *testing.T) {
	google, err := googlefake.New(t.Context(), googlefake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer google.Close()
	granted := newTokenServer(t, true)
	chatKey := serviceAccountKey(t, "keyleak-chat@keyleak-test.iam.gserviceaccount.com", "1111", granted.URL)
	meetKey := serviceAccountKey(t, "keyleak-meet@keyleak-test.iam.gserviceaccount.com", "2222", granted.URL)
	cfg := bot.RoomConfig{ChatAPIURL: google.URL(), ChatCredentialsFile: chatKey, MeetAPIURL: google.URL(), MeetCredentialsFile: meetKey, MeetDelegate: "keyleak-meet@example.com"}

	t.Run("all good, one check space", func(t *testing.T) {
		for range 2 {
			matchChecks(t, bot.CheckRoom(t.Context(), cfg), []checkOutcome{
				{name: "chat space", says: []string{"can create spaces", `"keyleak doctor"`}},
				{name: "meet", says: []string{"as keyleak-meet@example.com", "https://meet.google.com/"}},
			})
		}
		if n := len(google.Spaces()); n != 1 {
			t.Errorf("two runs made %d spaces, want the one check space", n)
		}
		granted.mu.Lock()
		defer granted.mu.Unlock()
		var subs []any
		for _, c := range granted.claims {
			subs = append(subs, c["sub"])
			if !strings.Contains(c["scope"].(string), "/auth/") {
				t.Errorf("token asked for scope %q", c["scope"])
			}
		}
		if !slices.Contains(subs, any("keyleak-meet@example.com")) || !slices.Contains(subs, nil) {
			t.Errorf("token subjects = %v, want the app itself for Chat and the delegated user for Meet", subs)
		}
	})
	t.Run("no delegation", func(t *testing.T) {
		refused := newTokenServer(t, false)
		c := cfg
		c.MeetCredentialsFile = serviceAccountKey(t, "keyleak-meet@keyleak-test.iam.gserviceaccount.com", "2222", refused.URL)
		matchChecks(t, bot.CheckRoom(t.Context(), c), []checkOutcome{
			{name: "chat space"},
			{name: "meet", fail: true, says: []string{"Domain Wide Delegation", "client ID 2222", "meetings.space.created"}},
		})
	})
	t.Run("app not approved", func(t *testing.T) {
		google.SetFault("chat.spaces.create", googlefake.Fault{Code: http.StatusForbidden, Times: 1})
		matchChecks(t, bot.CheckRoom(t.Context(), cfg), []checkOutcome{
			{name: "chat space", fail: true, says: []string{"super administrator", "chat.app.spaces.create", "deploy/google-chat.md"}},
			{name: "meet"},
		})
	})
	t.Run("not a key file", func(t *testing.T) {
		c := cfg
		c.ChatCredentialsFile = filepath.Join(t.TempDir(), "missing.json")
		matchChecks(t, bot.CheckRoom(t.Context(), c), []checkOutcome{
			{name: "chat space", fail: true, says: []string{"chat.credentials_file", "service account key in JSON"}},
			{name: "meet"},
		})
	})
	t.Run("unreachable", func(t *testing.T) {
		c := cfg
		c.ChatAPIURL, c.MeetAPIURL = unusedURL(t), ""
		c.MeetCredentialsFile = ""
		matchChecks(t, bot.CheckRoom(t.Context(), c), []checkOutcome{
			{name: "chat space", fail: true, says: []string{"chat.api_url"}},
		})
	})
}

func TestCheckChatKeys(t *testing.T) {
	google, err := googlefake.New(t.Context(), googlefake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer google.Close()
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"keys":"no"}`)) }))
	defer garbage.Close()
	tests := []struct {
		name    string
		url     string
		project bool
		want    checkOutcome
	}{
		{"JWKS", google.JWKSURL(), false, checkOutcome{name: "chat keys", says: []string{google.JWKSURL(), "serves 1 signing key"}}},
		{"X.509", google.X509URL(), true, checkOutcome{name: "chat keys", says: []string{"serves 1 signing key"}}},
		{"unreachable", unusedURL(t), false, checkOutcome{name: "chat keys", fail: true, says: []string{"chat.keys_url", "JSON Web Key Set", "endpoint_url", bot.DefaultChatJWKSURL}}},
		{"not keys", garbage.URL, true, checkOutcome{name: "chat keys", fail: true, says: []string{"X.509 certificate map", "project_number"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := bot.ChatVerifierConfig{AudienceType: bot.ChatAudienceEndpointURL, Audience: "https://keyleak.example.com/chat/events", KeysURL: tt.url}
			if tt.project {
				cfg.AudienceType, cfg.Audience = bot.ChatAudienceProjectNumber, "1234567890"
			}
			v, err := bot.NewChatVerifier(cfg)
			if err != nil {
				t.Fatal(err)
			}
			matchChecks(t, []bot.Check{v.Check(t.Context())}, []checkOutcome{tt.want})
		})
	}
}

func TestCheckMail(t *testing.T) {
	tests := []struct {
		name   string
		server smtpfake.Options
		refuse int // the server refuses the next message with this code
		closed bool
		cfg    func(*bot.MailConfig)
		send   bool
		sent   int
		want   checkOutcome
	}{
		{name: "connects", want: checkOutcome{name: "email", says: []string{"accepts keyleak", "--send-email"}}},
		{name: "sends", send: true, sent: 1, want: checkOutcome{name: "email", says: []string{"took a test email to infosec@example.com, ciso@example.com"}}},
		{name: "logs in", server: smtpfake.Options{Username: "keyleak", Password: "right"}, cfg: func(c *bot.MailConfig) { c.Username, c.Password = "keyleak", "right" },
			want: checkOutcome{name: "email", says: []string{"logged in as keyleak"}}},
		{name: "wrong password", server: smtpfake.Options{Username: "keyleak", Password: "right"}, cfg: func(c *bot.MailConfig) { c.Username, c.Password = "keyleak", "wrong" },
			want: checkOutcome{name: "email", fail: true, says: []string{"refused keyleak's login", "email.smtp_password"}}},
		{name: "refuses the message", refuse: 554, send: true, want: checkOutcome{name: "email", fail: true, says: []string{"refused the message", "keyleak@example.com"}}},
		{name: "nothing listens", closed: true, want: checkOutcome{name: "email", fail: true, says: []string{"nothing accepts SMTP", "email.smtp_host", "email.smtp_port"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, err := smtpfake.New(tt.server)
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()
			if tt.refuse != 0 {
				server.Refuse(1, tt.refuse)
			}
			cfg := bot.MailConfig{Host: server.Host(), Port: server.Port(), TLS: bot.MailNoTLS,
				From: "keyleak <keyleak@example.com>", To: []string{"infosec@example.com"}, Cc: []string{"ciso@example.com"}}
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			if tt.closed {
				server.Close()
			}
			matchChecks(t, []bot.Check{bot.CheckMail(t.Context(), cfg, tt.send)}, []checkOutcome{tt.want})
			if got := len(server.Messages()); got != tt.sent {
				t.Errorf("the server took %d messages, want %d", got, tt.sent)
			}
			if tt.sent > 0 {
				if subject := server.Messages()[0].Header.Get("Subject"); subject != "keyleak doctor: test email" {
					t.Errorf("subject %q, want the doctor's test email", subject)
				}
			}
		})
	}
}
