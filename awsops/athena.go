package awsops

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/smithy-go"
)

// Athena for what outgrows one machine: when the trail the investigation
// would read exceeds a budget, the question "which log files hold these
// keys' events" goes to Athena over the organisation trail table, and
// keyleak reads only the files it names (docs/athena.md).

// AthenaOptions say where and how keyleak queries the organisation trail table.
type AthenaOptions struct {
	Account        string // account that runs the queries ("" = keyleak's own)
	Region         string // Athena's region (default: the client's home region)
	Workgroup      string // default "keyleak"
	Database       string // default "cloudtrail"
	Table          string // default "cloudtrail_org"
	OutputLocation string // s3://…/ for results; empty = the workgroup's
	// BudgetBytes is the bytes of trail to read locally above which the
	// planner uses Athena (stored only; RunAthena does not read it).
	BudgetBytes      int64
	PollMin, PollMax time.Duration // poll backoff, default 250ms .. 5s
	// Timeout bounds one query's run, default 10 minutes, and again the
	// reading of its results; when the run times out or ctx ends, the
	// query is stopped (StopQueryExecution on a fresh, short context) so
	// that it stops costing.
	Timeout time.Duration
}

// Defaults of AthenaOptions.
const (
	DefaultAthenaWorkgroup = "keyleak"
	DefaultAthenaDatabase  = "cloudtrail"
	DefaultAthenaTable     = "cloudtrail_org"
)

func (o AthenaOptions) withDefaults() AthenaOptions {
	set := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	set(&o.Workgroup, DefaultAthenaWorkgroup)
	set(&o.Database, DefaultAthenaDatabase)
	set(&o.Table, DefaultAthenaTable)
	if o.PollMin <= 0 {
		o.PollMin = 250 * time.Millisecond
	}
	if o.PollMax <= 0 {
		o.PollMax = 5 * time.Second
	}
	o.PollMax = max(o.PollMax, o.PollMin)
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	return o
}

var athenaWorkgroupName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,128}$`)

func (o AthenaOptions) validate() error {
	switch {
	case !athenaWorkgroupName.MatchString(o.Workgroup):
		return fmt.Errorf("athena workgroup %q: want 1 to 128 letters, digits, '.', '_' or '-'", o.Workgroup)
	case !athenaName.MatchString(o.Database):
		return fmt.Errorf("athena database %q: want lower-case letters, digits and underscores", o.Database)
	case o.Account != "" && !athenaAccount.MatchString(o.Account):
		return fmt.Errorf("athena account %q: want 12 digits", o.Account)
	}
	return nil
}

// AthenaQuery is one SQL statement with its ExecutionParameters (each a
// SQL literal, e.g. 'AKIA…').
type AthenaQuery struct {
	Name   string
	SQL    string
	Params []string
}

// AthenaRun reports one query, for the investigation report.
type AthenaRun struct {
	Name         string    `json:"name"`
	QueryID      string    `json:"query_id,omitempty"`
	State        string    `json:"state,omitempty"`  // QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED
	Reason       string    `json:"reason,omitempty"` // Athena's StateChangeReason
	BytesScanned int64     `json:"bytes_scanned"`    // what Athena bills
	Rows         int       `json:"rows"`             // data rows read (headers not counted)
	Pages        int       `json:"pages"`            // GetQueryResults pages
	Throttled    int       `json:"throttled"`        // calls Athena throttled, each retried
	Submitted    time.Time `json:"submitted,omitzero"`
	Completed    time.Time `json:"completed,omitzero"`
	// ErrorType and Retryable are the AthenaError of a FAILED query
	// (docs.aws.amazon.com/athena/latest/ug/error-reference.html); a
	// retryable query may succeed if run again.
	ErrorType int32 `json:"error_type,omitempty"`
	Retryable bool  `json:"retryable,omitempty"`
}

var (
	// ErrAthenaFailed means a query ended FAILED or CANCELLED.
	ErrAthenaFailed = errors.New("athena query did not succeed")
	// ErrAthenaScanLimit means the workgroup's bytes-scanned cutoff
	// cancelled the query: narrow the window or split the query. Errors
	// that wrap it also wrap ErrAthenaFailed.
	ErrAthenaScanLimit = errors.New("the workgroup's bytes-scanned limit was exceeded")
)

// athenaAPI is what keyleak calls of Athena.
type athenaAPI interface {
	StartQueryExecution(context.Context, *athena.StartQueryExecutionInput, ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error)
	GetQueryExecution(context.Context, *athena.GetQueryExecutionInput, ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error)
	GetQueryResults(context.Context, *athena.GetQueryResultsInput, ...func(*athena.Options)) (*athena.GetQueryResultsOutput, error)
	StopQueryExecution(context.Context, *athena.StopQueryExecutionInput, ...func(*athena.Options)) (*athena.StopQueryExecutionOutput, error)
}

// athenaClient is Athena's client in account and region. Its retryer
// leaves throttling to RunAthena, which backs off and counts it.
func (c *Client) athenaClient(ctx context.Context, account, region string) (*athena.Client, error) {
	return cachedClient(ctx, c, "athena", account, region, func(cfg aws.Config) *athena.Client {
		return athena.NewFromConfig(cfg, func(o *athena.Options) {
			o.Retryer = newRetryer(func(s *retry.StandardOptions) {
				s.Retryables = append([]retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
					if athenaThrottled(err) {
						return aws.FalseTernary
					}
					return aws.UnknownTernary
				})}, s.Retryables...)
			})
		})
	})
}

// athenaStopTimeout bounds the StopQueryExecution (and the last look at
// the query) made after ctx ended.
const athenaStopTimeout = 15 * time.Second

// maxAthenaThrottles is how many times in a row one call may be throttled
// before RunAthena gives up.
const maxAthenaThrottles = 30

// athenaResultsPage is GetQueryResults' largest page.
const athenaResultsPage = 1000

// RunAthena runs q in o's workgroup and calls row with each result row,
// keyed by column name (a NULL is a missing key). It polls the query with
// backoff until it ends; throttled calls are retried and counted. When ctx
// ends or o.Timeout passes first, the query is stopped. The AthenaRun
// says what happened whatever the outcome: the query ID, its last state,
// the bytes it scanned.
func (c *Client) RunAthena(ctx context.Context, o AthenaOptions, q AthenaQuery, row func(map[string]string) error) (AthenaRun, error) {
	o = o.withDefaults()
	run := AthenaRun{Name: q.Name}
	if err := o.validate(); err != nil {
		return run, err
	}
	client, err := c.athenaClient(ctx, o.Account, o.Region)
	if err != nil {
		return run, fmt.Errorf("athena query %s: %w", q.Name, err)
	}
	r := &athenaRunner{api: client, o: o, q: q, run: &run}
	return run, r.do(ctx, row)
}

// athenaRunner runs one query.
type athenaRunner struct {
	api   athenaAPI
	o     AthenaOptions
	q     AthenaQuery
	run   *AthenaRun
	token string // the start's idempotency token: a start asked again is the same query
}

func (r *athenaRunner) do(parent context.Context, row func(map[string]string) error) error {
	ctx, cancel := context.WithTimeout(parent, r.o.Timeout)
	defer cancel()
	id, err := r.start(ctx)
	if err != nil && ctx.Err() != nil {
		// Given up while the start was on its way: Athena may have the
		// query. The same start, with its token, gives its ID back (or
		// starts it, to be stopped at once), and it is stopped.
		sctx, cancelStart := context.WithTimeout(context.WithoutCancel(parent), athenaStopTimeout)
		id, err = r.start(sctx)
		cancelStart()
		if err != nil {
			return r.ended(parent, ctx, fmt.Errorf("its start may have reached Athena and could not be asked again: %w", err),
				fmt.Errorf("start athena query %s: %w", r.q.Name, err))
		}
		r.run.QueryID = id
		return r.ended(parent, ctx, r.stop(parent), fmt.Errorf("start athena query %s: %w", r.q.Name, ctx.Err()))
	}
	if err != nil {
		return r.ended(parent, ctx, errNotStopped, fmt.Errorf("start athena query %s: %w", r.q.Name, err))
	}
	r.run.QueryID = id
	if err := r.wait(ctx); err != nil {
		// Still queued or running, as far as keyleak knows: stop it
		// rather than pay for a result nobody reads.
		stopErr := r.stop(parent)
		return r.ended(parent, ctx, stopErr, fmt.Errorf("athena query %s (%s): %w", r.q.Name, id, err))
	}
	switch types.QueryExecutionState(r.run.State) {
	case types.QueryExecutionStateSucceeded:
		// Reading the results has a timeout of its own: a query that ran
		// long may have many pages, and what it found is paid for.
		rctx, cancelResults := context.WithTimeout(parent, r.o.Timeout)
		defer cancelResults()
		if err := r.results(rctx, row); err != nil {
			return r.ended(parent, rctx, errNotStopped, fmt.Errorf("results of athena query %s (%s): %w", r.q.Name, id, err))
		}
		return nil
	case types.QueryExecutionStateCancelled:
		if r.run.Reason == "" {
			r.run.Reason = "cancelled outside keyleak"
		}
	}
	return r.failed()
}

// failed is the error of a query that ended FAILED or CANCELLED.
func (r *athenaRunner) failed() error {
	reason := r.run.Reason
	if reason == "" {
		reason = "no reason given"
	}
	if r.run.ErrorType != 0 {
		reason += fmt.Sprintf(" (error type %d)", r.run.ErrorType)
	}
	err := fmt.Errorf("athena query %s (%s) ended %s: %s: %w", r.q.Name, r.run.QueryID, strings.ToLower(r.run.State), reason, ErrAthenaFailed)
	if athenaScanLimited(reason) {
		err = fmt.Errorf("%w (%w)", err, ErrAthenaScanLimit)
	}
	return err
}

// errNotStopped is ended's stop error for a query keyleak did not have to
// stop: it had not started, or it had ended.
var errNotStopped = errors.New("not stopped")

// ended is err, unless ctx ended first: then it says whether the caller
// gave up or the timeout passed, and whether the query was stopped (stop
// is nil) or the stop failed, when keyleak had to stop it.
func (r *athenaRunner) ended(parent, ctx context.Context, stop, err error) error {
	name := r.q.Name
	if r.run.QueryID != "" {
		name += " (" + r.run.QueryID + ")"
	}
	switch {
	case stop == nil:
		name += ", stopped,"
	case !errors.Is(stop, errNotStopped):
		name += fmt.Sprintf(", NOT stopped (%v): it may scan on up to the workgroup's limit,", stop)
	}
	switch {
	case parent.Err() != nil:
		return fmt.Errorf("athena query %s given up: %w", name, parent.Err())
	case ctx.Err() != nil:
		return fmt.Errorf("athena query %s ran past its timeout of %s: %w", name, r.o.Timeout, context.DeadlineExceeded)
	case stop == nil:
		return fmt.Errorf("%w; the query was stopped", err)
	case !errors.Is(stop, errNotStopped):
		return fmt.Errorf("%w; the query was NOT stopped (%v): it may scan on up to the workgroup's limit", err, stop)
	}
	return err
}

// athenaScanLimited tells a query the workgroup's cutoff ended: Athena
// says so only in the reason's text (usually CANCELLED, FAILED in some
// reports), with no error code.
func athenaScanLimited(reason string) bool {
	return strings.Contains(strings.ToLower(reason), "bytes scanned limit was exceeded")
}

func (r *athenaRunner) start(ctx context.Context) (string, error) {
	if r.token == "" {
		r.token = requestToken()
	}
	in := &athena.StartQueryExecutionInput{
		QueryString:           aws.String(r.q.SQL),
		ClientRequestToken:    aws.String(r.token), // the same for every retry of this query
		WorkGroup:             aws.String(r.o.Workgroup),
		QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String(r.o.Database)},
	}
	if len(r.q.Params) > 0 {
		in.ExecutionParameters = r.q.Params
	}
	if r.o.OutputLocation != "" {
		in.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String(r.o.OutputLocation)}
	}
	out, err := athenaCall(ctx, r, func(ctx context.Context) (*athena.StartQueryExecutionOutput, error) {
		return r.api.StartQueryExecution(ctx, in)
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueryExecutionId), nil
}

// requestToken is a fresh idempotency token (32 to 128 characters).
func requestToken() string {
	var b [20]byte
	_, _ = crand.Read(b[:])
	return "keyleak-" + hex.EncodeToString(b[:])
}

// wait polls the query until it reaches a terminal state.
func (r *athenaRunner) wait(ctx context.Context) error {
	for poll := 0; ; poll++ {
		if err := r.look(ctx); err != nil {
			return err
		}
		switch types.QueryExecutionState(r.run.State) {
		case types.QueryExecutionStateSucceeded, types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
			return nil
		}
		if err := sleepCtx(ctx, athenaBackoff(r.o.PollMin, r.o.PollMax, poll)); err != nil {
			return err
		}
	}
}

// look reads the query's state into the run.
func (r *athenaRunner) look(ctx context.Context) error {
	out, err := athenaCall(ctx, r, func(ctx context.Context) (*athena.GetQueryExecutionOutput, error) {
		return r.api.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(r.run.QueryID)})
	})
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	qe := out.QueryExecution
	if qe == nil || qe.Status == nil {
		return errors.New("poll: athena answered without a status")
	}
	st := qe.Status
	r.run.State = string(st.State)
	r.run.Reason = aws.ToString(st.StateChangeReason)
	if e := st.AthenaError; e != nil {
		if r.run.Reason == "" {
			r.run.Reason = aws.ToString(e.ErrorMessage)
		}
		r.run.ErrorType = aws.ToInt32(e.ErrorType)
		r.run.Retryable = e.Retryable
	}
	r.run.Submitted = aws.ToTime(st.SubmissionDateTime)
	r.run.Completed = aws.ToTime(st.CompletionDateTime)
	if s := qe.Statistics; s != nil && s.DataScannedInBytes != nil {
		r.run.BytesScanned = *s.DataScannedInBytes
	}
	return nil
}

// stop stops the query on a fresh context (ctx may be over), retrying
// throttled calls as every call is, and reads its final state. It returns
// why the query could not be stopped; a failure to read the state after
// is left in the run's state.
func (r *athenaRunner) stop(parent context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), athenaStopTimeout)
	defer cancel()
	if _, err := athenaCall(ctx, r, func(ctx context.Context) (*athena.StopQueryExecutionOutput, error) {
		return r.api.StopQueryExecution(ctx, &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(r.run.QueryID)})
	}); err != nil {
		return err
	}
	_ = r.look(ctx)
	return nil
}

// results pages through the results, calling row for each data row.
func (r *athenaRunner) results(ctx context.Context, row func(map[string]string) error) error {
	var token *string
	var columns []string
	for {
		out, err := athenaCall(ctx, r, func(ctx context.Context) (*athena.GetQueryResultsOutput, error) {
			return r.api.GetQueryResults(ctx, &athena.GetQueryResultsInput{
				QueryExecutionId: aws.String(r.run.QueryID), MaxResults: aws.Int32(athenaResultsPage), NextToken: token,
			})
		})
		if err != nil {
			return fmt.Errorf("page %d: %w", r.run.Pages+1, err)
		}
		r.run.Pages++
		if out.ResultSet == nil {
			return fmt.Errorf("page %d: no result set", r.run.Pages)
		}
		rows := out.ResultSet.Rows
		if r.run.Pages == 1 {
			if out.ResultSet.ResultSetMetadata != nil {
				for _, ci := range out.ResultSet.ResultSetMetadata.ColumnInfo {
					columns = append(columns, aws.ToString(ci.Name))
				}
			}
			if len(columns) == 0 {
				return errors.New("page 1: no column names")
			}
			if len(rows) > 0 && isHeaderRow(rows[0], columns) {
				rows = rows[1:] // a SELECT's first row repeats the column labels
			}
		}
		for _, rw := range rows {
			if len(rw.Data) > len(columns) {
				return fmt.Errorf("page %d: a row of %d values for %d columns", r.run.Pages, len(rw.Data), len(columns))
			}
			m := make(map[string]string, len(rw.Data))
			for i, d := range rw.Data {
				if d.VarCharValue != nil {
					m[columns[i]] = *d.VarCharValue
				}
			}
			r.run.Rows++
			if err := row(m); err != nil {
				return err
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		token = out.NextToken
	}
}

func isHeaderRow(rw types.Row, columns []string) bool {
	if len(rw.Data) != len(columns) {
		return false
	}
	for i, d := range rw.Data {
		if aws.ToString(d.VarCharValue) != columns[i] {
			return false
		}
	}
	return true
}

// athenaCall makes one call, retrying it with backoff while Athena
// throttles it, and counts each throttle in the run.
func athenaCall[T any](ctx context.Context, r *athenaRunner, call func(context.Context) (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		out, err := call(ctx)
		if err == nil || !athenaThrottled(err) || ctx.Err() != nil {
			return out, err
		}
		r.run.Throttled++
		if attempt+1 >= maxAthenaThrottles {
			return out, fmt.Errorf("throttled %d times in a row: %w", attempt+1, err)
		}
		if err := sleepCtx(ctx, athenaBackoff(r.o.PollMin, r.o.PollMax, attempt)); err != nil {
			return out, err
		}
	}
}

// athenaThrottled tells Athena's throttling: the API rate
// (ThrottlingException) and the active-query quota (TooManyRequestsException).
func athenaThrottled(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "TooManyRequestsException":
		return true
	}
	return false
}

// athenaBackoff is the wait before retry attempt (0-based): doubling from lo,
// capped at hi, with the upper half jittered.
func athenaBackoff(lo, hi time.Duration, attempt int) time.Duration {
	d := lo
	for range attempt {
		if d >= hi/2 {
			d = hi
			break
		}
		d *= 2
	}
	d = min(d, hi)
	return d/2 + rand.N(d/2+1)
}

// sleepCtx waits d, or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
