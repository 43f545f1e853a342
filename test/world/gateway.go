package world

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Accounts of the world. moto's default account is DefaultAccount.
const (
	DefaultAccount = "123456789012"
	SecondAccount  = "210987654321"
	// AttackerAccount is an account outside the organisation: the
	// attacker's own, which the doors it opens admit.
	AttackerAccount = "999988887777"
)

// Headers a world client sets to shape the event a call records. The gateway strips them
// before forwarding to moto.
const (
	HeaderSourceIP  = "X-World-Source-Ip"  // recorded sourceIPAddress
	HeaderUserAgent = "X-World-User-Agent" // recorded userAgent
	HeaderEventTime = "X-World-Event-Time" // RFC 3339; the event (and any session it issues) happens then
)

// Config configures a Gateway.
type Config struct {
	MotoURL       string           // required
	Accounts      []string         // default DefaultAccount and SecondAccount
	TrailBucket   string           // default "world-cloudtrail", in the first account
	TrailInterval time.Duration    // periodic trail flush; default one minute, negative disables
	Now           func() time.Time // default time.Now
	Logger        *slog.Logger     // default discards
	LookupRate    float64          // LookupEvents requests/s per account and region; default 2
	LookupBurst   float64          // LookupEvents bucket size; default 2
	FaultSeed     uint64           // seed of the fault dice
}

// Gateway is the AWS endpoint of the world: it authenticates and authorises calls as AWS
// does, forwards them to moto, records them as CloudTrail events, serves LookupEvents and
// writes trail log files.
type Gateway struct {
	cfg        Config
	logger     *slog.Logger
	now        func() time.Time
	client     *http.Client
	keys       *keyStore
	principals *principalCache
	events     *eventStore
	lookups    *rateLimiter
	faults     *faults
	regions    optIns
	local      *local       // the calls moto does not offer (localservices.go)
	athena     *athenaStore // Athena queries moto does not run as AWS does (athena.go)
	trailMu    sync.Mutex   // one flush at a time
	// digestTrail and digestHome, once set (EnableTrailDigests), make
	// flushes deliver digest files; lastDigest is each account and
	// region's last, pendingDigest the files of hours whose digest is not
	// delivered yet. Guarded by trailMu.
	digestTrail, digestHome string
	lastDigest              map[[2]string]lastDigest
	pendingDigest           map[digestHour][]digestLogFile

	server   *http.Server
	listener net.Listener
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

const (
	maxBody     = 64 << 20
	adminPrefix = "/_world/"
)

// StartGateway listens on a free loopback port and serves until Close.
func StartGateway(cfg Config) (*Gateway, error) {
	g, err := newGateway(cfg)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen for gateway: %w", err)
	}
	g.listener = l
	g.server = &http.Server{Handler: g, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	g.stop = cancel
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		if err := g.server.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.logger.Error("gateway serve", "err", err)
		}
	}()
	if g.cfg.TrailInterval > 0 {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.flushPeriodically(ctx)
		}()
	}
	return g, nil
}

func newGateway(cfg Config) (*Gateway, error) {
	if cfg.MotoURL == "" {
		return nil, errors.New("gateway config: moto URL is required")
	}
	if len(cfg.Accounts) == 0 {
		cfg.Accounts = []string{DefaultAccount, SecondAccount, AttackerAccount}
	}
	for _, a := range cfg.Accounts {
		if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
			return nil, fmt.Errorf("gateway config: account %q is not 12 digits", a)
		}
	}
	if cfg.TrailBucket == "" {
		cfg.TrailBucket = "world-cloudtrail"
	}
	if cfg.TrailInterval == 0 {
		cfg.TrailInterval = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.LookupRate == 0 {
		cfg.LookupRate = 2
	}
	if cfg.LookupBurst == 0 {
		cfg.LookupBurst = 2
	}
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, DisableCompression: true,
	}}
	g := &Gateway{
		cfg: cfg, logger: cfg.Logger, now: cfg.Now, client: client,
		keys: newKeyStore(), events: newEventStore(),
		lookups: newRateLimiter(cfg.LookupRate, cfg.LookupBurst, cfg.Now),
		faults:  newFaults(cfg.FaultSeed),
		local:   newLocal(), athena: newAthenaStore(),
	}
	g.principals = newPrincipalCache(cfg.MotoURL, client, g.Admin)
	for _, a := range cfg.Accounts {
		g.keys.put(credential{Credentials: g.Admin(a), Account: a, Kind: kindRoot, ForwardKey: g.Admin(a).AccessKeyID})
	}
	return g, nil
}

// URL is the gateway's endpoint for every AWS service, e.g. http://127.0.0.1:41234.
func (g *Gateway) URL() string { return "http://" + g.listener.Addr().String() }

// Accounts lists the world's accounts; the first holds the trail bucket.
func (g *Gateway) Accounts() []string { return append([]string(nil), g.cfg.Accounts...) }

// TrailBucket is the S3 bucket (in the first account) that holds trail log files.
func (g *Gateway) TrailBucket() string { return g.cfg.TrailBucket }

// Admin returns the world's admin credentials of account. They act as the account's root
// user, skip deny checks, and are what bootstraps the world.
func (g *Gateway) Admin(account string) Credentials {
	var b [10]byte
	var n uint64
	for _, c := range account {
		n = n*10 + uint64(c-'0')
	}
	n <<= 7
	for i := 5; i >= 0; i-- {
		b[i] = byte(n)
		n >>= 8
	}
	copy(b[6:], "ADMN")
	return Credentials{
		AccessKeyID:     "AKIA" + base32.StdEncoding.EncodeToString(b[:]),
		SecretAccessKey: "worldAdminSecretKeyFor" + account + "xxxxxx",
	}
}

// SetFault makes the gateway delay or fail calls to service (a SigV4 signing name such as
// "s3", "iam", "sts", "ec2", "lambda", "ce", "cloudtrail", or "*" for every service without
// its own), or to one operation of it ("cloudtrail:LookupEvents", before its service's).
// The zero Fault removes it.
func (g *Gateway) SetFault(service string, f Fault) { g.faults.set(service, f) }

// SetLookupThrottle changes how LookupEvents calls are counted against the quota.
func (g *Gateway) SetLookupThrottle(t Throttle) { g.lookups.setMode(t) }

// Events returns every recorded CloudTrail record (management and data events, failures
// included) in the order the calls arrived. Their maps are shared: treat them as read-only.
func (g *Gateway) Events() []Record { return g.events.records() }

// Reset forgets every learned key, event, fault and throttle state; call it with moto's reset.
func (g *Gateway) Reset() {
	g.keys.reset()
	g.events.reset()
	g.principals.invalidate()
	g.lookups.reset()
	g.faults.reset()
	g.local.reset()
	g.athena.reset()
	g.regions.mu.Lock()
	g.regions.enabled = nil
	g.regions.mu.Unlock()
}

// Close stops serving and the periodic trail flush, and waits for both.
func (g *Gateway) Close() error {
	if g.stop != nil {
		g.stop()
	}
	var err error
	if g.server != nil {
		// Shutdown waits for connections a client opened but never used (StateNew) for
		// five seconds; past a short grace period, close whatever is left.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if g.server.Shutdown(ctx) != nil {
			err = g.server.Close()
		}
	}
	g.wg.Wait()
	g.client.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("close gateway: %w", err)
	}
	return nil
}

// call is one request on its way through the gateway.
type call struct {
	at        time.Time
	sourceIP  string
	userAgent string
	requestID string
	eventID   string
	sig       signature
	op        operation
	account   string // the account the call is made in
	region    string // the recorded awsRegion
	cred      credential
	known     bool // cred was found
	// owner is the account whose resource the call acts on, when another
	// account's resource policy or share admitted it (crossaccount.go).
	owner string
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ServeHTTP serves AWS API calls, and the /_world/ admin endpoints to unsigned requests.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, adminPrefix) && r.Header.Get("Authorization") == "" {
		g.serveAdmin(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	c, err := g.newCall(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sig, err := requestSignature(r)
	if err != nil {
		f := familyQuery
		if r.Header.Get("X-Amz-Target") != "" {
			f = familyJSON
		} else if r.Method != http.MethodPost {
			f = familyS3
		}
		writeAPIError(w, r, f, errorFor(f, failMissingAuth), c.requestID)
		return
	}
	c.sig = sig
	c.region = sig.Region
	if sig.Service == "iam" {
		c.region = "us-east-1" // IAM is global; CloudTrail records it in us-east-1
	}
	c.cred, c.known = g.keys.get(sig.AccessKeyID)
	c.account = g.accountOf(sig.AccessKeyID, c)
	c.op = classify(r, body, sig.Service, c.account, sig.Region)

	if k, bad := g.authenticate(r, body, c); bad {
		g.fail(w, r, c, errorFor(c.op.Family, k))
		return
	}
	delay, k, faulted, broken := g.faults.draw(c.op.Service, c.op.Name)
	if broken {
		w = &breakingWriter{ResponseWriter: w}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if faulted {
		g.fail(w, r, c, errorFor(c.op.Family, k))
		return
	}
	if refused := g.authorize(r.Context(), c); refused != nil {
		g.fail(w, r, c, *refused)
		return
	}
	owner, refused := g.crossAccount(r.Context(), c)
	if refused != nil {
		g.fail(w, r, c, *refused)
		return
	}
	c.owner = owner
	if g.serveLocal(r.Context(), w, r, c) {
		return
	}
	if c.op.Service == "athena" && g.serveAthena(w, r, c, body) {
		return
	}
	if c.op.Service == "lambda" && c.op.Name == "Invoke" {
		g.serveInvoke(w, r, c)
		return
	}
	if c.op.Service == "cloudtrail" && c.op.Name == "LookupEvents" {
		g.serveLookup(w, r, c, body)
		return
	}
	if c.op.Service == "ec2" && c.op.Name == "DescribeRegions" {
		g.serveDescribeRegions(w, c)
		return
	}
	if c.op.Service == "sts" && g.serveLocalSTS(r.Context(), w, r, c) {
		return
	}
	g.proxy(w, r, c, body)
}

func (g *Gateway) newCall(r *http.Request) (*call, error) {
	c := &call{at: g.now(), requestID: newID(), eventID: newID(), userAgent: r.UserAgent()}
	c.sourceIP, _, _ = net.SplitHostPort(r.RemoteAddr)
	if v := r.Header.Get(HeaderSourceIP); v != "" {
		c.sourceIP = v
	}
	if v := r.Header.Get(HeaderUserAgent); v != "" {
		c.userAgent = v
	}
	if v := r.Header.Get(HeaderEventTime); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("header %s is not RFC 3339: %w", HeaderEventTime, err)
		}
		c.at = t
	}
	return c, nil
}

// accountOf is the account a key belongs to: learned, decoded from the ID, or the default.
func (g *Gateway) accountOf(id string, c *call) string {
	if c.known {
		return c.cred.Account
	}
	if a, ok := accountFromAccessKeyID(id); ok {
		for _, known := range g.cfg.Accounts {
			if a == known {
				return a
			}
		}
	}
	return g.cfg.Accounts[0]
}

// authenticate checks the key and signature as AWS does.
func (g *Gateway) authenticate(r *http.Request, body []byte, c *call) (failure, bool) {
	cred := c.cred
	switch {
	case !c.known, cred.Deleted, cred.Inactive:
		return failInvalidKey, true
	case !c.sig.verify(r, body, cred.SecretAccessKey):
		return failBadSignature, true
	case cred.SessionToken != "" && c.sig.SecurityToken != cred.SessionToken:
		return failInvalidKey, true
	case !cred.Expires.IsZero() && !c.at.Before(cred.Expires):
		return failExpired, true
	}
	return 0, false
}

// proxy forwards the call to moto, learns from its answer, records the event and replies.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, c *call, body []byte) {
	if c.op.Service == "sts" && c.op.Name == "AssumeRole" {
		if e, ok := g.checkAssumeRole(r.Context(), c); !ok {
			g.fail(w, r, c, e)
			return
		}
	}
	var resp motoResponse
	var err error
	for _, b := range motoBodies(c, body) {
		if resp, err = g.forward(r, c, b); err != nil || resp.status/100 != 2 {
			break
		}
	}
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		g.logger.Error("forward to moto", "service", c.op.Service, "event", c.op.Name, "err", err)
		g.fail(w, r, c, errorFor(c.op.Family, failInternal))
		return
	}
	var elements map[string]any
	if resp.status/100 == 2 {
		elements = g.observe(r.Context(), c, &resp)
	}
	code, msg := responseError(resp.status, resp.header, resp.body)
	g.record(c, code, msg, elements)
	h := w.Header()
	for k, v := range resp.header {
		if (k == "Content-Length" && r.Method != http.MethodHead) || slices.Contains(hopHeaders, k) {
			continue // moto's "Connection: close" is its own connection's business, not the client's
		}
		h[k] = v
	}
	if r.Method != http.MethodHead {
		h.Set("Content-Length", fmt.Sprint(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
}

// fail records a failed call and writes its error.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, c *call, e apiError) {
	g.record(c, e.Code, e.Message, nil)
	writeAPIError(w, r, c.op.Family, e, c.requestID)
}

type motoResponse struct {
	status int
	header http.Header
	body   []byte
}

var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Accept-Encoding",
	HeaderSourceIP, HeaderUserAgent, HeaderEventTime}

func (g *Gateway) forward(r *http.Request, c *call, body []byte) (motoResponse, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, g.cfg.MotoURL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return motoResponse{}, fmt.Errorf("build moto request: %w", err)
	}
	req.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("X-Moto-Account-Id", cmp.Or(c.owner, c.account))
	if fwd := c.cred.ForwardKey; fwd != "" && fwd != c.cred.AccessKeyID {
		auth := req.Header.Get("Authorization")
		req.Header.Set("Authorization", strings.Replace(auth, "Credential="+c.cred.AccessKeyID+"/", "Credential="+fwd+"/", 1))
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return motoResponse{}, fmt.Errorf("call moto: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return motoResponse{}, fmt.Errorf("read moto response: %w", err)
	}
	return motoResponse{status: resp.StatusCode, header: resp.Header, body: motoAnswer(c, b)}, nil
}
