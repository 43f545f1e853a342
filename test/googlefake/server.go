// Package googlefake is a local Google Chat and Google Meet for keyleak's
// tests and demo. It serves the Chat v1 and Meet v2 REST calls keyleak makes,
// through the real google.golang.org/api clients, and refuses what the real
// services would refuse: every request is checked against the discovery
// documents shipped in google.golang.org/api, and the Chat rules that matter
// (requestId idempotency, ALREADY_EXISTS on a duplicate space name, client
// message IDs, message size, threads) are enforced. It records every call,
// can inject failures and latency per method, and signs events the way Chat
// does so the bot's token verification is exercised end to end.
//
// Point the clients at it with
//
//	chat.NewService(ctx, option.WithEndpoint(s.URL()+"/"), option.WithoutAuthentication(), option.WithScopes(...))
//
// and the same for meet.
package googlefake

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Google-wide request limits the fake applies before anything else.
const maxRequestBytes = 1 << 20

// Config configures a Server. The zero value is usable inside the keyleak module.
type Config struct {
	// Addr to listen on; 127.0.0.1:0 when empty.
	Addr string
	// APIDir is the google.golang.org/api module directory holding the
	// discovery documents; found with `go list -m` when empty.
	APIDir string
	// WorkspaceDomain, when set, makes users/{email} members outside it
	// fail as external users do under app authentication.
	WorkspaceDomain string
	// Now is the clock for timestamps and token claims; time.Now when nil.
	Now func() time.Time
	// HTTPClient sends events; a client with a 30 s timeout (Chat's limit
	// for a synchronous reply) when nil.
	HTTPClient *http.Client
	// Logger records refused requests; discarded when nil.
	Logger *slog.Logger
}

// Request is one recorded call.
type Request struct {
	Method     string // discovery method ID, e.g. "chat.spaces.create"; "" when no method matched
	HTTPMethod string
	Path       string
	Query      url.Values
	Body       []byte
	Status     int
	Time       time.Time
}

// Fault changes how calls to a method are answered until cleared or used up.
type Fault struct {
	// Code is the HTTP status to fail with (429 answers RESOURCE_EXHAUSTED,
	// 500 INTERNAL, 503 UNAVAILABLE); 0 only delays.
	Code int
	// Times is how many calls the fault applies to; 0 means until cleared.
	Times int
	// Delay is added before each affected call is answered.
	Delay time.Duration
}

// Server is the fake Google. Its methods are safe for concurrent use.
type Server struct {
	cfg  Config
	disc *discovery
	url  string
	srv  *http.Server
	done chan struct{}

	mu        sync.Mutex
	requests  []Request
	faults    map[string]*Fault
	chat      chatState
	meet      meetState
	keys      []signingKey // last is current
	nextIDNum int
}

// signingKey is one RSA key Chat signs event tokens with.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
	cert []byte // self-signed X.509, DER
}

// New loads the discovery documents, creates a signing key and starts serving.
// Close stops it.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.APIDir == "" {
		dir, err := findAPIDir(ctx)
		if err != nil {
			return nil, fmt.Errorf("start google fake: %w", err)
		}
		cfg.APIDir = dir
	}
	disc, err := loadDiscovery(cfg.APIDir)
	if err != nil {
		return nil, fmt.Errorf("start google fake: %w", err)
	}
	s := &Server{cfg: cfg, disc: disc, faults: make(map[string]*Fault), chat: newChatState(), meet: newMeetState()}
	if err := s.RotateKey(); err != nil {
		return nil, fmt.Errorf("start google fake: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("start google fake: %w", err)
	}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

// URL is the base URL, without a trailing slash, for both Chat and Meet.
func (s *Server) URL() string { return s.url }

// Close stops serving and waits for the server goroutine.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Requests returns every recorded call, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// SetFault applies f to calls of method, a discovery method ID such as
// "chat.spaces.create" or "meet.spaces.create", or "*" for every method.
func (s *Server) SetFault(method string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = &f
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
}

// takeFault returns the fault for method and uses one of its Times.
func (s *Server) takeFault(method string) Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := method
	f := s.faults[key]
	if f == nil {
		key = "*"
		f = s.faults[key]
	}
	if f == nil {
		return Fault{}
	}
	got := *f
	if f.Times > 0 {
		f.Times--
		if f.Times == 0 {
			delete(s.faults, key)
		}
	}
	return got
}

// apiError is an error in Google's JSON shape.
type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  string `json:"status"`
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Code, e.Status, e.Message) }

// statusName is the google.rpc.Code name Google pairs with an HTTP status.
func statusName(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusUnauthorized:
		return "UNAUTHENTICATED"
	case http.StatusForbidden:
		return "PERMISSION_DENIED"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict:
		return "ALREADY_EXISTS"
	case http.StatusRequestEntityTooLarge:
		return "OUT_OF_RANGE"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusInternalServerError:
		return "INTERNAL"
	case http.StatusNotImplemented:
		return "UNIMPLEMENTED"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "UNKNOWN"
}

func newAPIError(code int, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...), Status: statusName(code)}
}

// call is one validated request handed to an API handler.
type call struct {
	method *method
	path   string
	query  url.Values
	body   []byte
}

// ServeHTTP routes the key endpoints, then validates and serves API calls.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case jwksPath:
		s.serveJWKS(w)
		return
	case x509Path:
		s.serveX509(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
	rec := Request{HTTPMethod: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: body, Time: s.cfg.Now()}
	resp, aerr := s.serveAPI(r.Context(), r, body, err, &rec)
	if aerr != nil {
		s.cfg.Logger.InfoContext(r.Context(), "google fake refused a call", "method", rec.Method, "path", rec.Path, "status", aerr.Status, "message", aerr.Message)
		rec.Status = aerr.Code
		writeJSON(w, aerr.Code, map[string]any{"error": aerr})
	} else {
		rec.Status = http.StatusOK
		writeJSON(w, http.StatusOK, resp)
	}
	s.mu.Lock()
	s.requests = append(s.requests, rec)
	s.mu.Unlock()
}

func (s *Server) serveAPI(ctx context.Context, r *http.Request, body []byte, readErr error, rec *Request) (any, *apiError) {
	if readErr != nil {
		return nil, newAPIError(http.StatusBadRequest, "read request body: %v", readErr)
	}
	if len(body) > maxRequestBytes {
		return nil, newAPIError(http.StatusRequestEntityTooLarge, "request body too large")
	}
	m := s.disc.match(r.Method, r.URL.Path)
	if m == nil {
		return nil, newAPIError(http.StatusNotFound, "method not found: %s %s", r.Method, r.URL.Path)
	}
	rec.Method = m.id
	if err := m.checkQuery(r.URL.Query()); err != nil {
		return nil, newAPIError(http.StatusBadRequest, "%v", err)
	}
	if err := m.checkBody(body); err != nil {
		return nil, newAPIError(http.StatusBadRequest, "%v", err)
	}
	f := s.takeFault(m.id)
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, newAPIError(http.StatusGatewayTimeout, "client went away")
		}
	}
	if f.Code != 0 {
		msg := "internal error encountered"
		if f.Code == http.StatusTooManyRequests {
			msg = "quota exceeded"
		}
		return nil, newAPIError(f.Code, "%s", msg)
	}
	c := &call{method: m, path: strings.TrimPrefix(r.URL.Path, "/"), query: r.URL.Query(), body: body}
	h := s.handler(m.id)
	if h == nil {
		return nil, newAPIError(http.StatusNotImplemented, "%s is not implemented by the fake", m.id)
	}
	return h(c)
}

// handler returns the implementation of a discovery method, or nil.
func (s *Server) handler(id string) func(*call) (any, *apiError) {
	switch id {
	case "chat.spaces.create":
		return s.chatCreateSpace
	case "chat.spaces.get":
		return s.chatGetSpace
	case "chat.spaces.members.create":
		return s.chatCreateMember
	case "chat.spaces.messages.create":
		return s.chatCreateMessage
	case "chat.spaces.messages.get":
		return s.chatGetMessage
	case "chat.spaces.messages.patch":
		return s.chatPatchMessage
	case "meet.spaces.create":
		return s.meetCreateSpace
	case "meet.spaces.get":
		return s.meetGetSpace
	}
	return nil
}

// decodeBody decodes an already validated body.
func decodeBody(c *call, dst any) *apiError {
	if len(bytes.TrimSpace(c.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.body, dst); err != nil {
		return newAPIError(http.StatusBadRequest, "invalid JSON payload received: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b = []byte(`{"error":{"code":500,"message":"encode response","status":"INTERNAL"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
