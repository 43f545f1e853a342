package awsops_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// athenaCase is a world with keyleak's workgroup (results in
// s3://keyleak-athena-results/athena/, enforced, a 10 MB cutoff), a client
// acting as the default account, options that poll every few
// milliseconds, and a key objects query over the last day.
type athenaCase struct {
	w *world.World
	c *awsops.Client
	o awsops.AthenaOptions
	q awsops.AthenaQuery
}

const athenaCutoff = 10_000_000

func newAthenaCase(t *testing.T, moto *world.Moto) athenaCase {
	t.Helper()
	w := world.New(t, moto)
	if err := w.Gateway.CreateAthenaWorkGroup(t.Context(), world.AthenaWorkGroup{Name: awsops.DefaultAthenaWorkgroup,
		OutputLocation: "s3://keyleak-athena-results/athena/", Enforce: true, BytesScannedCutoffPerQuery: athenaCutoff}); err != nil {
		t.Fatal(err)
	}
	now := time.Now() // the one clock of the case: the world's is time.Now too
	c := awsops.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)), awsops.Options{Now: func() time.Time { return now }})
	o := awsops.AthenaOptions{PollMin: time.Millisecond, PollMax: 4 * time.Millisecond}
	q, err := awsops.KeyObjectsQuery(o, nil, []string{"AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A"}, now.Add(-24*time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	return athenaCase{w: w, c: c, o: o, q: q}
}

// run runs the case's query, collecting its rows.
func (ac athenaCase) run(ctx context.Context) (awsops.AthenaRun, []map[string]string, error) {
	var rows []map[string]string
	run, err := ac.c.RunAthena(ctx, ac.o, ac.q, func(r map[string]string) error {
		rows = append(rows, r)
		return nil
	})
	return run, rows, err
}

// athenaCalls lists the Athena calls the world recorded, as "Name" or
// "Name:ErrorCode".
func athenaCalls(w *world.World) []string {
	var out []string
	for _, e := range w.Gateway.Events() {
		if e.EventSource != "athena.amazonaws.com" {
			continue
		}
		s := e.EventName
		if e.ErrorCode != "" {
			s += ":" + e.ErrorCode
		}
		out = append(out, s)
	}
	return out
}

func keyObjectsResult(n int) world.AthenaResult {
	res := world.AthenaResult{Columns: []string{"object", "account", "region", "eventtime", "eventid", "accesskeyid", "minted"}}
	for i := range n {
		row := map[string]string{
			"object":      fmt.Sprintf("s3://world-cloudtrail/AWSLogs/o-exampleorg/123456789012/CloudTrail/us-east-1/2026/11/22/f%04d.json.gz", i/10),
			"account":     world.DefaultAccount,
			"region":      "us-east-1",
			"eventtime":   "2026-11-22T10:00:00Z",
			"eventid":     fmt.Sprintf("event-%04d", i),
			"accesskeyid": "AKIAIOSFODNN7EXAMPLE",
		}
		if i%100 == 0 {
			row["minted"] = "ASIAY34FZKBOKMUTVV7A" // an AssumeRole
		}
		res.Rows = append(res.Rows, row)
	}
	return res
}

func TestRunAthena(t *testing.T) {
	moto := world.NewMotoTB(t)

	t.Run("queued, running, back to queued, succeeded: 2,500 rows over 3 pages", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		var mu sync.Mutex
		var polls []string
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Progress: []string{"QUEUED", "QUEUED", "RUNNING", "QUEUED", "RUNNING"}, DataScannedInBytes: 8_765_432,
			OnPoll: func(_ int, state string) { mu.Lock(); polls = append(polls, state); mu.Unlock() }})
		if err := ac.w.Gateway.SetAthenaResults(t.Context(), world.DefaultAccount, "us-east-1", keyObjectsResult(2500)); err != nil {
			t.Fatal(err)
		}
		run, rows, err := ac.run(t.Context())
		if err != nil {
			t.Fatalf("RunAthena: %v", err)
		}
		if want := []string{"QUEUED", "QUEUED", "RUNNING", "QUEUED", "RUNNING", "SUCCEEDED"}; !slices.Equal(polls, want) {
			t.Errorf("the world answered polls %v, want %v", polls, want)
		}
		ex := ac.w.Gateway.AthenaExecutions()
		if len(ex) != 1 {
			t.Fatalf("%d queries started, want 1", len(ex))
		}
		if run.QueryID != ex[0].ID || run.State != "SUCCEEDED" || run.Rows != 2500 || run.Pages != 3 || run.BytesScanned != 8_765_432 || run.Throttled != 0 {
			t.Errorf("run = %+v, want query %s SUCCEEDED with 2500 rows, 3 pages, 8765432 bytes, no throttling", run, ex[0].ID)
		}
		if run.Name != awsops.AthenaKeyObjects || run.Submitted.IsZero() || run.Completed.Before(run.Submitted) {
			t.Errorf("run name %q, submitted %v, completed %v", run.Name, run.Submitted, run.Completed)
		}
		if got := ex[0]; got.SQL != ac.q.SQL || !slices.Equal(got.Params, ac.q.Params) || got.WorkGroup != "keyleak" || got.Database != "cloudtrail" ||
			!strings.HasPrefix(got.OutputLocation, "s3://keyleak-athena-results/athena/") || len(got.ClientRequestToken) < 32 {
			t.Errorf("the world ran %+v, want the query and parameters in keyleak's workgroup and database, with a token", got)
		}
		if len(rows) != 2500 {
			t.Fatalf("row was called %d times, want 2500", len(rows))
		}
		if got := rows[0]; got["eventid"] != "event-0000" || got["minted"] != "ASIAY34FZKBOKMUTVV7A" || got["object"] == "" {
			t.Errorf("first row = %v", got)
		}
		if _, ok := rows[1]["minted"]; ok {
			t.Errorf("row 1 = %v: a NULL minted must be missing", rows[1])
		}
		if got := rows[2499]["eventid"]; got != "event-2499" {
			t.Errorf("last row's eventid = %q, want event-2499", got)
		}
		if got := strings.Count(strings.Join(athenaCalls(ac.w), " "), "GetQueryResults"); got != 3 {
			t.Errorf("%d GetQueryResults calls, want 3", got)
		}
	})

	t.Run("failed", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Running: 2, State: "FAILED", DataScannedInBytes: 1234,
			Reason: "HIVE_BAD_DATA: Error parsing field value for field 3", Error: &world.AthenaError{Category: 2, Type: 1002}})
		run, rows, err := ac.run(t.Context())
		if !errors.Is(err, awsops.ErrAthenaFailed) || errors.Is(err, awsops.ErrAthenaScanLimit) {
			t.Fatalf("error = %v, want ErrAthenaFailed and not the scan limit", err)
		}
		for _, want := range []string{"HIVE_BAD_DATA", run.QueryID, "failed"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
		if run.State != "FAILED" || run.ErrorType != 1002 || !strings.HasPrefix(run.Reason, "HIVE_BAD_DATA") || run.BytesScanned != 1234 || run.QueryID == "" {
			t.Errorf("run = %+v", run)
		}
		if len(rows) != 0 || slices.Contains(athenaCalls(ac.w), "GetQueryResults") {
			t.Errorf("a failed query's results were read: %d rows, calls %v", len(rows), athenaCalls(ac.w))
		}
	})

	t.Run("cancelled by the workgroup's cutoff", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Queued: 1, Running: 3, DataScannedInBytes: 5 * athenaCutoff})
		run, _, err := ac.run(t.Context())
		if !errors.Is(err, awsops.ErrAthenaScanLimit) || !errors.Is(err, awsops.ErrAthenaFailed) {
			t.Fatalf("error = %v, want ErrAthenaScanLimit", err)
		}
		if run.State != "CANCELLED" || run.BytesScanned != athenaCutoff || run.Reason != "Bytes scanned limit was exceeded" {
			t.Errorf("run = %+v, want CANCELLED by the limit at %d bytes", run, athenaCutoff)
		}
		if slices.Contains(athenaCalls(ac.w), "StopQueryExecution") {
			t.Error("keyleak stopped a query that had ended")
		}
	})

	t.Run("ctx ended: the query is stopped", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Queued: 1, Hold: true, DataScannedInBytes: 4_000_000,
			OnPoll: func(n int, _ string) {
				if n == 3 {
					cancel()
				}
			}})
		run, _, err := ac.run(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		ex := ac.w.Gateway.AthenaExecutions()
		if len(ex) != 1 || !ex[0].Stopped || ex[0].State != "CANCELLED" {
			t.Fatalf("the world's queries = %+v, want the one stopped by StopQueryExecution", ex)
		}
		if run.QueryID != ex[0].ID || run.State != "CANCELLED" || run.BytesScanned != 2_000_000 {
			t.Errorf("run = %+v, want query %s CANCELLED having scanned 2000000 bytes", run, ex[0].ID)
		}
	})

	t.Run("timeout: the query is stopped", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.o.Timeout = 2 * time.Second // the query is held: the start must be in, whatever the machine does
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Hold: true})
		run, _, err := ac.run(t.Context())
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("error = %v, want a timeout", err)
		}
		if ex := ac.w.Gateway.AthenaExecutions(); len(ex) != 1 || !ex[0].Stopped || run.State != "CANCELLED" {
			t.Errorf("queries %+v, run %+v: want the query stopped and reported CANCELLED", ex, run)
		}
	})

	// Reading the results has a timeout of its own. The query's run uses
	// most of Timeout (the world holds its last poll), and the results
	// take more than the rest (the caller holds the 1,000th row, so that
	// a page is asked for after): the rows are still all read.
	t.Run("results have a timeout of their own", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.o.Timeout = 10 * time.Second // each part's 40% margin is 4 s, for a busy machine under -race
		hold := 6 * ac.o.Timeout / 10
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Running: 1, OnPoll: func(n int, _ string) {
			if n == 2 { // the poll that answers SUCCEEDED
				time.Sleep(hold)
			}
		}})
		if err := ac.w.Gateway.SetAthenaResults(t.Context(), world.DefaultAccount, "us-east-1", keyObjectsResult(2500)); err != nil {
			t.Fatal(err)
		}
		rows := 0
		run, err := ac.c.RunAthena(t.Context(), ac.o, ac.q, func(map[string]string) error {
			if rows++; rows == 1000 {
				time.Sleep(hold)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("RunAthena: %v (the run and the results each took %s of the %s timeout)", err, hold, ac.o.Timeout)
		}
		if rows != 2500 || run.Pages != 3 || run.State != "SUCCEEDED" {
			t.Errorf("run %+v with %d rows, want SUCCEEDED, 2500 rows over 3 pages", run, rows)
		}
	})

	t.Run("results that take past the timeout are given up, the query not stopped", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		// Long enough for the first page to be read whatever else the
		// machine does (it took over 300 ms under -race on a busy one);
		// the row that ends it then waits out the whole timeout.
		ac.o.Timeout = 3 * time.Second
		if err := ac.w.Gateway.SetAthenaResults(t.Context(), world.DefaultAccount, "us-east-1", keyObjectsResult(2500)); err != nil {
			t.Fatal(err)
		}
		rows := 0
		run, err := ac.c.RunAthena(t.Context(), ac.o, ac.q, func(map[string]string) error {
			if rows++; rows == 1000 {
				time.Sleep(ac.o.Timeout + 100*time.Millisecond) // the next page is asked for after the timeout
			}
			return nil
		})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ran past its timeout") {
			t.Fatalf("error = %v, want the results to run past the timeout", err)
		}
		if strings.Contains(err.Error(), "stopped") {
			t.Errorf("error = %v: the query had ended, there was nothing to stop", err)
		}
		if ex := ac.w.Gateway.AthenaExecutions(); len(ex) != 1 || ex[0].Stopped || run.State != "SUCCEEDED" || rows < 1000 || rows >= 2500 {
			t.Errorf("queries %+v, run %+v, %d rows: want the query SUCCEEDED, not stopped, and the rows up to the page asked for too late read", ex, run, rows)
		}
	})

	t.Run("a throttled stop is retried", func(t *testing.T) {
		for _, cancelled := range []bool{false, true} {
			ac := newAthenaCase(t, moto)
			ctx, cancel := context.WithCancel(t.Context())
			script := world.AthenaScript{Hold: true}
			if cancelled { // the incident closes
				script.OnPoll = func(n int, _ string) {
					if n == 2 {
						cancel()
					}
				}
			} else {
				ac.o.Timeout = 2 * time.Second // the query is held: the start must be in, whatever the machine does
			}
			ac.w.Gateway.ScriptAthena(script)
			ac.w.Gateway.ThrottleAthena(world.AthenaThrottle{Op: "StopQueryExecution", Times: 2})
			run, _, err := ac.run(ctx)
			cancel()
			ex := ac.w.Gateway.AthenaExecutions()
			if len(ex) != 1 || !ex[0].Stopped || run.State != "CANCELLED" || run.Throttled != 2 {
				t.Errorf("cancelled=%v: queries %+v, run %+v: want the query stopped after 2 throttles, CANCELLED", cancelled, ex, run)
			}
			if err == nil || !strings.Contains(err.Error(), ", stopped,") {
				t.Errorf("cancelled=%v: error %v, want it to say the query was stopped", cancelled, err)
			}
		}
	})

	t.Run("a stop that fails is said to", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.o.Timeout = 2 * time.Second // the query is held: the start must be in, whatever the machine does
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Hold: true})
		ac.w.Gateway.ThrottleAthena(world.AthenaThrottle{Op: "StopQueryExecution", Code: "AccessDeniedException", Times: 1}) // no athena:StopQueryExecution
		run, _, err := ac.run(t.Context())
		if err == nil || !strings.Contains(err.Error(), "NOT stopped") || strings.Contains(err.Error(), ", stopped,") {
			t.Fatalf("error = %v, want it to say the query was NOT stopped", err)
		}
		if ex := ac.w.Gateway.AthenaExecutions(); len(ex) != 1 || ex[0].Stopped || run.State == "CANCELLED" {
			t.Errorf("queries %+v, run %+v: the stop failed, yet the query looks stopped", ex, run)
		}
	})

	t.Run("a poll that fails, then a stop that fails, is said to", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Hold: true})
		ac.w.Gateway.ThrottleAthena(world.AthenaThrottle{Op: "GetQueryExecution", Code: "AccessDeniedException", Times: 1})
		ac.w.Gateway.ThrottleAthena(world.AthenaThrottle{Op: "StopQueryExecution", Code: "AccessDeniedException", Times: 1})
		_, _, err := ac.run(t.Context())
		if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") || !strings.Contains(err.Error(), "NOT stopped") {
			t.Fatalf("error = %v, want the poll's failure and that the query was NOT stopped", err)
		}
		if ex := ac.w.Gateway.AthenaExecutions(); len(ex) != 1 || ex[0].Stopped {
			t.Errorf("queries %+v: the stop failed, yet the query looks stopped", ex)
		}
	})

	t.Run("throttled, then succeeds", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.w.Gateway.ThrottleAthena(world.AthenaThrottle{Op: "StartQueryExecution", Times: 2})
		ac.w.Gateway.ThrottleAthena(world.AthenaThrottle{Op: "GetQueryExecution", Code: "TooManyRequestsException"})
		ac.w.Gateway.ThrottleAthena(world.AthenaThrottle{Op: "GetQueryResults"})
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Running: 1})
		if err := ac.w.Gateway.SetAthenaResults(t.Context(), world.DefaultAccount, "us-east-1", keyObjectsResult(3)); err != nil {
			t.Fatal(err)
		}
		run, rows, err := ac.run(t.Context())
		if err != nil {
			t.Fatalf("RunAthena: %v", err)
		}
		if run.Throttled != 4 || run.State != "SUCCEEDED" || len(rows) != 3 || run.Rows != 3 {
			t.Errorf("run = %+v with %d rows, want 4 throttles, SUCCEEDED, 3 rows", run, len(rows))
		}
		if ex := ac.w.Gateway.AthenaExecutions(); len(ex) != 1 {
			t.Errorf("%d queries started, want 1", len(ex))
		}
		var tokens []string
		for _, e := range ac.w.Gateway.Events() {
			if e.EventName == "StartQueryExecution" {
				tokens = append(tokens, fmt.Sprint(e.RequestParameters["clientRequestToken"]))
			}
		}
		if len(tokens) != 3 || tokens[0] != tokens[1] || tokens[1] != tokens[2] {
			t.Errorf("StartQueryExecution tokens = %q, want one token sent three times", tokens)
		}
		want := []string{"StartQueryExecution:ThrottlingException", "StartQueryExecution:ThrottlingException", "StartQueryExecution",
			"GetQueryExecution:TooManyRequestsException", "GetQueryExecution", "GetQueryExecution",
			"GetQueryResults:ThrottlingException", "GetQueryResults"}
		if got := athenaCalls(ac.w); !slices.Equal(got, want) {
			t.Errorf("calls = %v, want %v", got, want)
		}
	})

	t.Run("unknown workgroup", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.o.Workgroup = "nosuch"
		run, _, err := ac.run(t.Context())
		if err == nil || errors.Is(err, awsops.ErrAthenaFailed) || !strings.Contains(err.Error(), "WorkGroup is not found") {
			t.Fatalf("error = %v, want the workgroup named as not found", err)
		}
		if !strings.HasPrefix(err.Error(), "start athena query key-objects") {
			t.Errorf("error %q does not start with what failed", err)
		}
		if run.QueryID != "" || run.Name != awsops.AthenaKeyObjects || len(ac.w.Gateway.AthenaExecutions()) != 0 {
			t.Errorf("run = %+v, queries %v; want no query", run, ac.w.Gateway.AthenaExecutions())
		}
	})

	t.Run("a row error stops the paging", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		if err := ac.w.Gateway.SetAthenaResults(t.Context(), world.DefaultAccount, "us-east-1", keyObjectsResult(1500)); err != nil {
			t.Fatal(err)
		}
		stop := errors.New("enough")
		n := 0
		run, err := ac.c.RunAthena(t.Context(), ac.o, ac.q, func(map[string]string) error {
			if n++; n == 10 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || run.Pages != 1 || run.Rows != 10 {
			t.Errorf("error %v, run %+v: want the row's error after 10 rows of page 1", err, run)
		}
	})
}

func TestAthenaOptionsRejected(t *testing.T) {
	c := awsops.NewFromConfig(aws.Config{Region: "us-east-1"}, awsops.Options{})
	tests := []struct {
		name string
		o    awsops.AthenaOptions
		want string
	}{
		{"workgroup", awsops.AthenaOptions{Workgroup: "a b"}, "workgroup"},
		{"database", awsops.AthenaOptions{Database: "Trail; DROP"}, "database"},
		{"account", awsops.AthenaOptions{Account: "12345"}, "account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.RunAthena(t.Context(), tt.o, awsops.AthenaQuery{Name: "x", SQL: "SELECT 1"}, func(map[string]string) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one about the %s", err, tt.want)
			}
		})
	}
}

// askedAbout scripts the case's next ip-seen query to find nothing, and
// returns where the addresses it was asked about will be.
func askedAbout(ac athenaCase) *[]string {
	var asked []string
	ac.w.Gateway.ScriptAthena(world.AthenaScript{Match: "sourceipaddress IN", Answer: func(_ string, params []string) world.AthenaResult {
		asked = params
		return world.AthenaResult{Columns: []string{"account", "sourceipaddress", "events"}}
	}})
	return &asked
}

// TestSeeIPsElsewhere: the organisation-wide question is asked about the
// attacker's addresses only (not the key's baseline, not AWS's own
// calls), and a query that fails leaves a gap that says what is not
// known, with the query's report.
func TestSeeIPsElsewhere(t *testing.T) {
	moto := world.NewMotoTB(t)
	now := time.Now() // the one clock of the test
	inv := func() *awsops.Investigation {
		return &awsops.Investigation{Window: awsops.Window{Start: now.Add(-24 * time.Hour), End: now},
			Sessions: []awsops.Session{{AccessKeyID: "AKIAIOSFODNN7EXAMPLE"}},
			Sources: []awsops.Source{
				{Network: "198.51.100.0/24", IPs: []string{"198.51.100.7"}, Baseline: true},
				{Network: "aws:ec2", IPs: []string{"ec2.amazonaws.com"}},
				{Network: "203.0.113.0/24", IPs: []string{"203.0.113.9", "203.0.113.10"}, Attacker: true},
			}}
	}

	t.Run("the attacker's addresses", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		asked := askedAbout(ac)
		got := inv()
		ac.c.SeeIPsElsewhere(t.Context(), got, ac.o)
		if want := []string{"'203.0.113.10'", "'203.0.113.9'"}; !slices.Equal(*asked, want) {
			t.Errorf("asked about %q, want only the attacker's addresses %q", *asked, want)
		}
		if len(got.Athena) != 1 || got.Athena[0].State != "SUCCEEDED" || len(got.Gaps) != 0 || len(got.IPSeen) != 0 {
			t.Errorf("athena %+v, gaps %+v, seen %+v: want one query that found nothing", got.Athena, got.Gaps, got.IPSeen)
		}
	})

	t.Run("a failed query is a gap", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		ac.w.Gateway.ScriptAthena(world.AthenaScript{Match: "sourceipaddress IN", State: "FAILED", Reason: "HIVE_CURSOR_ERROR"})
		got := inv()
		ac.c.SeeIPsElsewhere(t.Context(), got, ac.o)
		if len(got.Athena) != 1 || got.Athena[0].State != "FAILED" || got.Athena[0].QueryID == "" {
			t.Fatalf("athena %+v, want the failed query reported", got.Athena)
		}
		if len(got.Gaps) != 1 || got.Gaps[0].Step != awsops.StepIPSeen || !strings.Contains(got.Gaps[0].Reason, "HIVE_CURSOR_ERROR") ||
			!strings.Contains(got.Gaps[0].Reason, "attacker's 2 addresses") {
			t.Errorf("gaps %+v, want one ip-seen gap saying why and what is not known", got.Gaps)
		}
	})

	t.Run("an odd address is a gap of its own", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		asked := askedAbout(ac)
		got := inv()
		got.Sources[2].IPs = append(got.Sources[2].IPs, "fe80::1%eth0", "08.1.250.216")
		ac.c.SeeIPsElsewhere(t.Context(), got, ac.o)
		if want := []string{"'203.0.113.10'", "'203.0.113.9'"}; !slices.Equal(*asked, want) {
			t.Errorf("asked about %q, want the attacker's other addresses %q", *asked, want)
		}
		if len(got.Gaps) != 1 || got.Gaps[0].Step != awsops.StepIPSeen || !strings.Contains(got.Gaps[0].Reason, "fe80::1%eth0, 08.1.250.216") {
			t.Errorf("gaps %+v, want one naming the 2 addresses that cannot be asked about", got.Gaps)
		}
	})

	t.Run("past 100 addresses, a gap says how many were not asked about", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		asked := askedAbout(ac)
		got := inv()
		got.Sources[2].IPs = nil
		for i := range 101 {
			got.Sources[2].IPs = append(got.Sources[2].IPs, fmt.Sprintf("203.0.113.%d", i))
		}
		ac.c.SeeIPsElsewhere(t.Context(), got, ac.o)
		if len(*asked) != 100 {
			t.Errorf("asked about %d addresses, want the first 100", len(*asked))
		}
		if len(got.Gaps) != 1 || !strings.Contains(got.Gaps[0].Reason, "used 101 addresses") {
			t.Errorf("gaps %+v, want one saying 101 addresses, of which 100 were asked about", got.Gaps)
		}
	})

	t.Run("no attacker address, no query", func(t *testing.T) {
		ac := newAthenaCase(t, moto)
		got := inv()
		got.Sources = got.Sources[:2]
		ac.c.SeeIPsElsewhere(t.Context(), got, ac.o)
		if ran := ac.w.Gateway.AthenaExecutions(); len(ran) != 0 || len(got.Athena) != 0 {
			t.Errorf("queries %+v ran for an investigation without attacker addresses", ran)
		}
	})
}

// lostStart forwards every call; for the first StartQueryExecution it
// then holds the answer until the request's context ends, as a response
// lost on the way (or a caller that gives up while it travels) does.
type lostStart struct {
	base http.RoundTripper
	lost atomic.Bool
}

func (r *lostStart) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err == nil && strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".StartQueryExecution") && r.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	return resp, err
}

// TestAthenaStartGivenUpIsStopped: the caller gives up while
// StartQueryExecution's answer travels. Athena has the query: the same
// start, with its ClientRequestToken, gives its ID back, and keyleak stops
// it and says so.
func TestAthenaStartGivenUpIsStopped(t *testing.T) {
	moto := world.NewMotoTB(t)
	ac := newAthenaCase(t, moto)
	ac.w.Gateway.ScriptAthena(world.AthenaScript{Hold: true})
	cfg := ac.w.Config("us-east-1", ac.w.Admin(world.DefaultAccount))
	cfg.HTTPClient = &http.Client{Transport: &lostStart{base: cfg.HTTPClient.(*http.Client).Transport}}
	c := awsops.NewFromConfig(cfg, awsops.Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	run, err := c.RunAthena(ctx, ac.o, ac.q, func(map[string]string) error { return nil })
	ex := ac.w.Gateway.AthenaExecutions()
	if len(ex) != 1 {
		t.Fatalf("%d queries started, want 1", len(ex))
	}
	if !ex[0].Stopped || run.QueryID != ex[0].ID {
		t.Errorf("query %s is left %s (stopped: %v; keyleak's run names %q); keyleak's error: %v", ex[0].ID, ex[0].State, ex[0].Stopped, run.QueryID, err)
	}
	if err == nil || !strings.Contains(err.Error(), "stopped") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want it to say the query was given up and stopped", err)
	}
}
