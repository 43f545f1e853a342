// Package slackfake is a local Slack for keyleak's tests and demo: a Web API
// server for the methods keyleak calls, answering with Slack's request and
// response shapes and errors, a response_url endpoint, and a sender of
// slash commands signed as Slack signs them.
//
// Point slack-go at it with slack.OptionAPIURL(s.URL() + "/"). Every call is
// recorded for tests to read (Calls, Posted, Messages); faults and latency
// can be injected per method.
package slackfake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultBotToken = "xoxb-1000000001-2000000002-keyleakfaketoken"
	DefaultTeamID   = "T0KEYLEAK"
	DefaultTeamName = "keyleak"
	DefaultBotID    = "B0KEYLEAK"
	DefaultBotUser  = "U0KEYLEAK"
	DefaultBotName  = "keyleak"
	// DefaultAppToken is the app-level token Socket Mode connects with.
	DefaultAppToken = "xapp-1-A0KEYLEAK-1-keyleakfakeapptoken"
)

// DefaultScopes returns the bot scopes keyleak asks for.
func DefaultScopes() []string {
	return []string{"commands", "chat:write", "usergroups:read", "users:read", "users:read.email", "channels:history", "groups:history"}
}

// Options seeds a Server. Zero fields take the defaults above.
type Options struct {
	BotToken   string
	AppToken   string // app-level token for Socket Mode
	TeamID     string
	TeamName   string
	BotID      string
	BotUserID  string
	BotName    string
	Scopes     []string // granted to the bot token; DefaultScopes() when nil
	Users      []User
	Channels   []Channel
	UserGroups []UserGroup
	// Now is the clock for message timestamps and signed requests; time.Now
	// when nil.
	Now func() time.Time
}

// User is a workspace member.
type User struct {
	ID       string
	Name     string // the handle, e.g. "ana"
	RealName string
	Email    string
	IsBot    bool
	Deleted  bool
}

// Channel is a conversation the bot may post to.
type Channel struct {
	ID   string
	Name string // without '#'
	// NotInChannel makes posts and history answer not_in_channel, as for a public
	// channel the bot was never invited to.
	NotInChannel bool
	Archived     bool
	// Members limits who can receive ephemeral messages; nil means everyone.
	Members []string
}

// UserGroup is a user group, mentioned as <!subteam^ID>.
type UserGroup struct {
	ID          string
	Handle      string
	Name        string
	Description string
	Users       []string
	Disabled    bool
}

// Call is one recorded request to a Web API method.
type Call struct {
	Method string
	Token  string
	// Params holds form, query and JSON parameters alike; JSON values that
	// are not strings are kept as JSON text, as a form would carry them.
	Params url.Values
	JSON   bool // the body was application/json
	Status int
	Error  string // the Slack error answered, "" when ok
	At     time.Time
}

// Fault makes a method fail.
type Fault struct {
	// Error is the Slack error code, e.g. "channel_not_found" or "ratelimited".
	Error string
	// Status is the HTTP status: 200 by default, 429 for "ratelimited".
	Status int
	// RetryAfter is sent with 429, in whole seconds (at least 1).
	RetryAfter time.Duration
	// Times is how many calls fail; 0 means every call until ClearFaults.
	Times int
}

// RateLimited is the fault Slack answers when a method's rate limit is hit.
func RateLimited(retryAfter time.Duration, times int) Fault {
	return Fault{Error: "ratelimited", Status: http.StatusTooManyRequests, RetryAfter: retryAfter, Times: times}
}

// Server is a local Slack. It is safe for concurrent use.
type Server struct {
	srv       *httptest.Server
	opts      Options
	closing   chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced on every recorded change
	calls     []Call
	faults    map[string][]Fault
	latency   map[string]time.Duration
	messages  []*Message // in posting order
	lastTS    time.Time
	responses map[string]*responseURL
	posts     []ResponsePost
	nextID    int
	sockets   []*socketConn
	acks      map[string]chan json.RawMessage
}

// New starts a Server on 127.0.0.1. Close it when done.
func New(opts Options) *Server {
	opts.BotToken = or(opts.BotToken, DefaultBotToken)
	opts.TeamID = or(opts.TeamID, DefaultTeamID)
	opts.TeamName = or(opts.TeamName, DefaultTeamName)
	opts.BotID = or(opts.BotID, DefaultBotID)
	opts.BotUserID = or(opts.BotUserID, DefaultBotUser)
	opts.BotName = or(opts.BotName, DefaultBotName)
	opts.AppToken = or(opts.AppToken, DefaultAppToken)
	if opts.Scopes == nil {
		opts.Scopes = DefaultScopes()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:      opts,
		closing:   make(chan struct{}),
		changed:   make(chan struct{}),
		faults:    make(map[string][]Fault),
		latency:   make(map[string]time.Duration),
		responses: make(map[string]*responseURL),
		acks:      make(map[string]chan json.RawMessage),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/commands/", s.serveResponseURL)
	mux.HandleFunc("/socket", s.serveSocket)
	mux.HandleFunc("/", s.serveAPI)
	s.srv = httptest.NewServer(mux)
	return s
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// URL is the server's base URL; the Web API is at URL()+"/"+method (and
// also under /api/, as on slack.com).
func (s *Server) URL() string { return s.srv.URL }

// BotToken is the token the server accepts.
func (s *Server) BotToken() string { return s.opts.BotToken }

// Close stops the server, cutting injected latency short. Calling it again
// does nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

// Fail makes the next calls to method fail with f (after any faults
// already queued for it). ResponseURLMethod names the response_url
// endpoint.
func (s *Server) Fail(method string, f Fault) {
	if f.Status == 0 {
		f.Status = http.StatusOK
		if f.Error == "ratelimited" {
			f.Status = http.StatusTooManyRequests
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// SetLatency delays every answer of method (or of ResponseURLMethod) by d;
// method "" sets the delay for methods without their own.
func (s *Server) SetLatency(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency[method] = d
}

// Calls returns every recorded Web API call, in order; with methods, only
// calls to those.
func (s *Server) Calls(methods ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if len(methods) == 0 || slices.Contains(methods, c.Method) {
			c.Params = cloneValues(c.Params)
			out = append(out, c)
		}
	}
	return out
}

// Await blocks until cond, called after every recorded change, is true or
// ctx ends.
func (s *Server) Await(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("await slack fake: %w", ctx.Err())
		}
	}
}

// notifyLocked wakes Await; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// apiError is a Slack error answer.
type apiError struct {
	code   string
	status int
	extra  map[string]any
}

func errCode(code string) *apiError { return &apiError{code: code, status: http.StatusOK} }

type handler func(r *request) (map[string]any, *apiError)

// request is a parsed Web API request.
type request struct {
	method string
	token  string
	params url.Values
	json   bool
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api"), "/")
	req, perr := parseRequest(r)
	if perr == nil {
		req.method = method
	} else {
		req = &request{method: method, params: url.Values{}}
	}
	if !s.wait(r.Context(), method) {
		return
	}
	var (
		result map[string]any
		aerr   = perr
	)
	if aerr == nil {
		result, aerr = s.dispatch(req)
	}
	s.answer(w, req, result, aerr)
}

// wait applies injected latency; false means the request was abandoned.
func (s *Server) wait(ctx context.Context, method string) bool {
	s.mu.Lock()
	d, ok := s.latency[method]
	if !ok {
		d = s.latency[""]
	}
	s.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

// route returns a method's handler and the scope it needs, as Slack
// documents them.
func (s *Server) route(method string) (h handler, scope string) {
	switch method {
	case "chat.postMessage":
		return s.postMessage, "chat:write"
	case "chat.update":
		return s.update, "chat:write"
	case "chat.postEphemeral":
		return s.postEphemeral, "chat:write"
	case "usergroups.list":
		return s.userGroupsList, "usergroups:read"
	case "users.info":
		return s.usersInfo, "users:read"
	case "users.lookupByEmail":
		return s.usersLookupByEmail, "users:read.email"
	case "auth.test":
		return s.authTest, ""
	case "apps.connections.open":
		return s.connectionsOpen, ""
	case "conversations.history":
		return s.history, "channels:history"
	}
	return nil, ""
}

func (s *Server) dispatch(req *request) (map[string]any, *apiError) {
	h, scope := s.route(req.method)
	if h == nil {
		return nil, &apiError{code: "unknown_method", status: http.StatusOK, extra: map[string]any{"req_method": req.method}}
	}
	want := s.opts.BotToken
	if req.method == "apps.connections.open" {
		want = s.opts.AppToken // Socket Mode takes the app-level token
	}
	switch {
	case req.token == "":
		return nil, errCode("not_authed")
	case req.token != want:
		return nil, errCode("invalid_auth")
	}
	if f, ok := s.takeFault(req.method); ok {
		e := &apiError{code: f.Error, status: f.Status}
		if f.Status == http.StatusTooManyRequests {
			e.extra = map[string]any{"retry_after": retryAfterSeconds(f.RetryAfter)}
		}
		return nil, e
	}
	if scope != "" && !slices.Contains(s.opts.Scopes, scope) {
		return nil, &apiError{code: "missing_scope", status: http.StatusOK, extra: map[string]any{
			"needed": scope, "provided": strings.Join(s.opts.Scopes, ","),
		}}
	}
	return h(req)
}

func (s *Server) takeFault(method string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	queue := s.faults[method]
	if len(queue) == 0 {
		return Fault{}, false
	}
	f := queue[0]
	switch {
	case f.Times == 1:
		s.faults[method] = queue[1:]
	case f.Times > 1:
		queue[0].Times--
	}
	return f, true
}

func retryAfterSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// answer writes Slack's JSON envelope and records the call.
func (s *Server) answer(w http.ResponseWriter, req *request, result map[string]any, aerr *apiError) {
	body := map[string]any{"ok": aerr == nil}
	status := http.StatusOK
	code := ""
	if aerr != nil {
		code, status = aerr.code, aerr.status
		body["error"] = code
		for k, v := range aerr.extra {
			body[k] = v
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(body["retry_after"].(int)))
			delete(body, "retry_after")
		}
	} else {
		for k, v := range result {
			body[k] = v
		}
	}
	s.mu.Lock()
	s.calls = append(s.calls, Call{
		Method: req.method, Token: req.token, Params: req.params, JSON: req.json,
		Status: status, Error: code, At: s.opts.Now(),
	})
	s.notifyLocked()
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if req.token != "" && req.token == s.opts.BotToken {
		// As Slack does, every answer to a valid token lists its scopes.
		w.Header().Set("X-OAuth-Scopes", strings.Join(s.opts.Scopes, ","))
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// parseRequest reads the token and parameters the way Slack does: form
// bodies, JSON bodies (token only in the Authorization header) and query
// strings.
func parseRequest(r *http.Request) (*request, *apiError) {
	req := &request{params: url.Values{}}
	for k, v := range r.URL.Query() {
		req.params[k] = v
	}
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			return nil, errCode("request_timeout")
		}
		ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch ctype {
		case "application/json":
			req.json = true
			if t := bytes.TrimSpace(body); len(t) == 0 || string(t) == "null" {
				break // a JSON method called without arguments, as apps.connections.open is
			}
			if err := flattenJSON(body, req.params); err != nil {
				return nil, errCode("invalid_json")
			}
		case "application/x-www-form-urlencoded", "":
			form, err := url.ParseQuery(string(body))
			if err != nil {
				return nil, errCode("invalid_form_data")
			}
			for k, v := range form {
				req.params[k] = append(req.params[k], v...)
			}
		default:
			return nil, errCode("invalid_form_data")
		}
	}
	if auth := r.Header.Get("Authorization"); auth != "" {
		token, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok {
			return nil, errCode("invalid_auth")
		}
		req.token = token
	} else if !req.json {
		req.token = req.params.Get("token")
	}
	req.params.Del("token")
	return req, nil
}

func flattenJSON(body []byte, into url.Values) error {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return err
	}
	for k, raw := range obj {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			into.Set(k, s)
			continue
		}
		into.Set(k, string(raw))
	}
	return nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
