package world

import (
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// World is moto with the gateway in front of it.
type World struct {
	Moto    *Moto
	Gateway *Gateway

	// transport carries the calls of the clients from Config; nil means
	// http.DefaultTransport. New gives each world its own, so that no connection
	// outlives the gateway it was opened to.
	transport http.RoundTripper
}

// Start starts moto and a gateway for one test and stops both at cleanup.
func Start(tb testing.TB) *World {
	tb.Helper()
	return New(tb, NewMotoTB(tb))
}

// New resets a running moto (for example one started in TestMain) and starts a fresh
// gateway in front of it, closed at cleanup. Tests sharing one moto must not run in parallel.
func New(tb testing.TB, m *Moto) *World {
	tb.Helper()
	if err := m.Reset(tb.Context()); err != nil {
		tb.Fatalf("reset moto: %v", err)
	}
	g, err := StartGateway(Config{MotoURL: m.URL(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatalf("start gateway: %v", err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	tb.Cleanup(func() {
		transport.CloseIdleConnections()
		if err := g.Close(); err != nil {
			tb.Errorf("close gateway: %v", err)
		}
	})
	return &World{Moto: m, Gateway: g, transport: transport}
}

// URL is the endpoint of every AWS service in the world.
func (w *World) URL() string { return w.Gateway.URL() }

// Admin returns the admin (root) credentials of account.
func (w *World) Admin(account string) Credentials { return w.Gateway.Admin(account) }

// ClientOption shapes what the calls of one client record.
type ClientOption func(*headerTransport)

// WithSourceIP records ip as the calls' sourceIPAddress.
func WithSourceIP(ip string) ClientOption {
	return func(t *headerTransport) { t.sourceIP = ip }
}

// WithUserAgent records ua as the calls' userAgent.
func WithUserAgent(ua string) ClientOption {
	return func(t *headerTransport) { t.userAgent = ua }
}

// WithEventTime places each call (and any session it issues) at the time now returns.
func WithEventTime(now func() time.Time) ClientOption {
	return func(t *headerTransport) { t.eventTime = now }
}

// Config returns an aws.Config whose clients call the world in region with creds.
// S3 clients must also set UsePathStyle. Retries are the SDK's defaults; set
// RetryMaxAttempts to 1 to see throttling errors.
func (w *World) Config(region string, creds Credentials, opts ...ClientOption) aws.Config {
	t := &headerTransport{base: w.transport}
	if t.base == nil {
		t.base = http.DefaultTransport
	}
	for _, o := range opts {
		o(t)
	}
	return aws.Config{
		Region:       region,
		BaseEndpoint: aws.String(w.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		HTTPClient:   &http.Client{Transport: t},
	}
}

// RetryBrokenConnections makes the clients of cfg retry a call whose connection broke
// under the response, up to twice, wait apart, and nothing else: throttling and every other
// error reach the caller. The SDK's default retryer retries the same errors (a TCP reset
// can surface as "use of closed network connection", see aws-sdk-go-v2#2737). The retried
// call counts against the gateway's quotas once more, so wait should be one quota interval.
// Use it for reads only.
func RetryBrokenConnections(cfg *aws.Config, wait time.Duration) {
	cfg.RetryMaxAttempts = 0
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
			o.Backoff = fixedBackoff(wait)
			o.RateLimiter = ratelimit.None
		})
	}
}

// fixedBackoff waits the same time before every retry.
type fixedBackoff time.Duration

func (b fixedBackoff) BackoffDelay(int, error) (time.Duration, error) { return time.Duration(b), nil }

// headerTransport adds the world's headers to every request.
type headerTransport struct {
	base      http.RoundTripper
	sourceIP  string
	userAgent string
	eventTime func() time.Time
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.sourceIP == "" && t.userAgent == "" && t.eventTime == nil {
		return t.base.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	if t.sourceIP != "" {
		r.Header.Set(HeaderSourceIP, t.sourceIP)
	}
	if t.userAgent != "" {
		r.Header.Set(HeaderUserAgent, t.userAgent)
	}
	if t.eventTime != nil {
		r.Header.Set(HeaderEventTime, t.eventTime().UTC().Format(time.RFC3339Nano))
	}
	return t.base.RoundTrip(r)
}
