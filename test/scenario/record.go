package scenario

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/keyleak/keyleak/test/world"
)

// credential is a key an actor holds, with the name the ground truth gives it.
type credential struct {
	world.Credentials
	Label   string // "leaked", "eks-node-role/i-0abc…", "federated/backup-sync"…
	Account string // the account the key acts in
}

// call is one API call an actor made, as its SDK client saw it.
type call struct {
	Service     string // SigV4 signing name: s3, sts, iam, ec2…
	Operation   string // SDK operation name
	Region      string // the client's region
	Account     string
	Time        time.Time // the event time the call carried
	AccessKeyID string
	Credential  string // credential label
	SourceIP    string
	UserAgent   string
	ErrorCode   string // "" when the call succeeded
	Input       any    // the SDK input
	Output      any    // the SDK output, nil on failure
}

// recorder keeps every call of one kind of actor, in order.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) add(c call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recorder) all() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// actor makes calls from one place (source IP, user agent) at times it is told.
type actor struct {
	world *world.World
	rec   *recorder
	ip    string
	ua    string

	mu  sync.Mutex
	now time.Time
}

func newActor(w *world.World, rec *recorder, ip, ua string, at time.Time) *actor {
	return &actor{world: w, rec: rec, ip: ip, ua: ua, now: at}
}

// at places the actor's next calls at t.
func (a *actor) at(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.now = t
}

// wait moves the actor's clock forward by d.
func (a *actor) wait(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.now = a.now.Add(d)
}

func (a *actor) time() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.now
}

// config returns a client configuration for c in region whose calls are recorded. Retries
// are off so that every recorded call is exactly one CloudTrail event.
func (a *actor) config(region string, c credential) aws.Config {
	cfg := a.world.Config(region, c.Credentials,
		world.WithSourceIP(a.ip), world.WithUserAgent(a.ua), world.WithEventTime(a.time))
	cfg.RetryMaxAttempts = 1
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Initialize.Add(a.recordMiddleware(region, c), middleware.After)
	})
	return cfg
}

func (a *actor) recordMiddleware(region string, c credential) middleware.InitializeMiddleware {
	return middleware.InitializeMiddlewareFunc("ScenarioRecord", func(ctx context.Context, in middleware.InitializeInput,
		next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		at := a.time().UTC().Truncate(time.Second)
		out, md, err := next.HandleInitialize(ctx, in)
		op := middleware.GetOperationName(ctx)
		rec := call{
			Service: signingName(middleware.GetServiceID(ctx)), Operation: op,
			Region: region, Account: c.Account, Time: at, AccessKeyID: c.AccessKeyID, Credential: c.Label,
			SourceIP: a.ip, UserAgent: a.ua, ErrorCode: errorCode(err), Input: in.Parameters,
		}
		// A connection that broke under a successful answer: the gateway
		// served the call, and recorded a success, which the ground truth
		// records too. A read is made again for its answer (another call,
		// as a client's retry is), once.
		for again := readOnly(op); brokenUnderSuccess(err); again = false {
			rec.ErrorCode = ""
			if !again {
				break
			}
			a.rec.add(rec)
			out, md, err = next.HandleInitialize(ctx, in)
			rec.ErrorCode = errorCode(err)
		}
		if err == nil {
			rec.Output = out.Result
		}
		a.rec.add(rec)
		return out, md, err
	})
}

// brokenUnderSuccess reports whether err is a connection broken while a
// successful answer was read (the SDK's "https response error StatusCode:
// 200 … deserialization failed").
func brokenUnderSuccess(err error) bool {
	var resp *awshttp.ResponseError
	var deser *smithy.DeserializationError
	return errors.As(err, &resp) && resp.HTTPStatusCode()/100 == 2 && errors.As(err, &deser) &&
		retry.RetryableConnectionError{}.IsErrorRetryable(err) == aws.TrueTernary
}

// readOnly reports whether an operation only reads, by its name: those
// that mint credentials (GetSessionToken, GetFederationToken) do not.
func readOnly(op string) bool {
	if strings.HasSuffix(op, "Token") {
		return false
	}
	for _, verb := range []string{"Get", "List", "Describe", "Lookup", "Head"} {
		if strings.HasPrefix(op, verb) {
			return true
		}
	}
	return false
}

// signingName maps an SDK service ID to its SigV4 signing name.
func signingName(serviceID string) string {
	switch serviceID {
	case "Cost Explorer":
		return "ce"
	}
	return strings.ToLower(strings.ReplaceAll(serviceID, " ", ""))
}

// errorCode is the AWS error code of err, "" for nil, "ClientError" for a failure without one.
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return "ClientError"
}
