package world

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
)

// athenaWorld is a world with the workgroup "wg" (results in
// s3://results/wg/, enforced, cutoff 10 MB) and an Athena client of the
// default account that does not retry.
func athenaWorld(tb testing.TB) (*World, *athena.Client) {
	tb.Helper()
	w := newWorld(tb)
	if err := w.Gateway.CreateAthenaWorkGroup(tb.Context(), AthenaWorkGroup{Name: "wg", OutputLocation: "s3://results/wg/", Enforce: true,
		BytesScannedCutoffPerQuery: 10_000_000}); err != nil {
		tb.Fatal(err)
	}
	cfg := w.Config("us-east-1", w.Admin(DefaultAccount))
	cfg.RetryMaxAttempts = 1
	return w, athena.NewFromConfig(cfg)
}

func startQuery(tb testing.TB, c *athena.Client, sql string, params ...string) string {
	tb.Helper()
	in := &athena.StartQueryExecutionInput{QueryString: aws.String(sql), WorkGroup: aws.String("wg"),
		QueryExecutionContext: &types.QueryExecutionContext{Database: aws.String("cloudtrail")}}
	if len(params) > 0 {
		in.ExecutionParameters = params
	}
	out, err := c.StartQueryExecution(tb.Context(), in)
	if err != nil {
		tb.Fatalf("start %q: %v", sql, err)
	}
	return aws.ToString(out.QueryExecutionId)
}

func pollState(tb testing.TB, c *athena.Client, id string) *types.QueryExecution {
	tb.Helper()
	out, err := c.GetQueryExecution(tb.Context(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
	if err != nil {
		tb.Fatalf("get query execution %s: %v", id, err)
	}
	return out.QueryExecution
}

func TestAthenaScriptedLifecycle(t *testing.T) {
	w, c := athenaWorld(t)
	var mu sync.Mutex
	var seen []string
	w.Gateway.ScriptAthena(AthenaScript{Progress: []string{"QUEUED", "RUNNING", "QUEUED", "RUNNING"}, DataScannedInBytes: 4_000_000,
		OnPoll: func(n int, state string) { mu.Lock(); seen = append(seen, fmt.Sprintf("%d %s", n, state)); mu.Unlock() }})
	id := startQuery(t, c, "SELECT eventid FROM cloudtrail_org WHERE eventname = ?", "'AssumeRole'")
	if _, err := c.GetQueryResults(t.Context(), &athena.GetQueryResultsInput{QueryExecutionId: aws.String(id)}); apiCode(err) != "InvalidRequestException" ||
		!strings.Contains(err.Error(), "Current state: QUEUED") {
		t.Errorf("results before the end: %v, want InvalidRequestException naming QUEUED", err)
	}
	var states []string
	var last *types.QueryExecution
	for range 6 {
		last = pollState(t, c, id)
		states = append(states, string(last.Status.State))
	}
	if want := []string{"QUEUED", "RUNNING", "QUEUED", "RUNNING", "SUCCEEDED", "SUCCEEDED"}; !slices.Equal(states, want) {
		t.Errorf("states = %v, want %v", states, want)
	}
	if want := []string{"1 QUEUED", "2 RUNNING", "3 QUEUED", "4 RUNNING", "5 SUCCEEDED"}; !slices.Equal(seen, want) {
		t.Errorf("OnPoll saw %v, want %v", seen, want)
	}
	if got := aws.ToInt64(last.Statistics.DataScannedInBytes); got != 4_000_000 {
		t.Errorf("DataScannedInBytes = %d, want 4000000", got)
	}
	if got, want := aws.ToString(last.ResultConfiguration.OutputLocation), "s3://results/wg/"+id+".csv"; got != want {
		t.Errorf("output location = %q, want %q (the enforced workgroup's)", got, want)
	}
	if last.Status.CompletionDateTime == nil || last.Status.CompletionDateTime.Before(*last.Status.SubmissionDateTime) {
		t.Errorf("completion %v, submission %v: want a completion no earlier", last.Status.CompletionDateTime, last.Status.SubmissionDateTime)
	}
	if aws.ToString(last.WorkGroup) != "wg" || !slices.Equal(last.ExecutionParameters, []string{"'AssumeRole'"}) || last.StatementType != types.StatementTypeDml {
		t.Errorf("execution = workgroup %q, parameters %q, statement %s", aws.ToString(last.WorkGroup), last.ExecutionParameters, last.StatementType)
	}
	// A finished query stays finished.
	if _, err := c.StopQueryExecution(t.Context(), &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if got := pollState(t, c, id).Status.State; got != types.QueryExecutionStateSucceeded {
		t.Errorf("state after stopping a finished query = %s, want SUCCEEDED", got)
	}
}

func TestAthenaResultsPaging(t *testing.T) {
	w, c := athenaWorld(t)
	res := AthenaResult{Columns: []string{"eventid", "minted"}}
	for i := range 5 {
		row := map[string]string{"eventid": fmt.Sprint("e-", i)}
		if i == 2 {
			row["minted"] = "ASIAEXAMPLE"
		}
		res.Rows = append(res.Rows, row)
	}
	if err := w.Gateway.SetAthenaResults(t.Context(), DefaultAccount, "us-east-1", res); err != nil {
		t.Fatal(err)
	}
	id := startQuery(t, c, "SELECT eventid, minted FROM cloudtrail_org")
	pollState(t, c, id)
	var pages [][]string
	var token *string
	for {
		out, err := c.GetQueryResults(t.Context(), &athena.GetQueryResultsInput{QueryExecutionId: aws.String(id), MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		var page []string
		for _, r := range out.ResultSet.Rows {
			var cells []string
			for _, d := range r.Data {
				cells = append(cells, aws.ToString(d.VarCharValue)+map[bool]string{true: "", false: "<null>"}[d.VarCharValue != nil])
			}
			page = append(page, strings.Join(cells, ","))
		}
		pages = append(pages, page)
		if got := len(out.ResultSet.ResultSetMetadata.ColumnInfo); got != 2 {
			t.Errorf("page %d has %d columns described, want 2", len(pages), got)
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	want := [][]string{{"eventid,minted", "e-0,<null>"}, {"e-1,<null>", "e-2,ASIAEXAMPLE"}, {"e-3,<null>", "e-4,<null>"}}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("pages = %q, want %q", pages, want)
	}
	for name, in := range map[string]*athena.GetQueryResultsInput{
		"a token of nothing": {QueryExecutionId: aws.String(id), NextToken: aws.String("bm90IGEgdG9rZW4")},
		"too many rows":      {QueryExecutionId: aws.String(id), MaxResults: aws.Int32(1001)},
		"unknown query":      {QueryExecutionId: aws.String("00000000-0000-0000-0000-000000000000")},
	} {
		if _, err := c.GetQueryResults(t.Context(), in); apiCode(err) != "InvalidRequestException" {
			t.Errorf("%s: %v, want InvalidRequestException", name, err)
		}
	}
}

func TestAthenaFailuresAndCutoff(t *testing.T) {
	w, c := athenaWorld(t)
	w.Gateway.ScriptAthena(AthenaScript{Match: "nosuch", Running: 1, State: "FAILED", Reason: "COLUMN_NOT_FOUND: line 1:8: Column 'nosuch' cannot be resolved",
		Error: &AthenaError{Category: 2, Type: 1006}})
	w.Gateway.ScriptAthena(AthenaScript{Match: "big", Running: 3, DataScannedInBytes: 50_000_000})
	big := startQuery(t, c, "SELECT big FROM cloudtrail_org")
	failed := startQuery(t, c, "SELECT nosuch FROM cloudtrail_org")
	wrongParams := startQuery(t, c, "SELECT 1 FROM cloudtrail_org WHERE eventid IN (?, ?) AND eventname <> '?'", "'a'")

	pollState(t, c, failed)
	qe := pollState(t, c, failed)
	if qe.Status.State != types.QueryExecutionStateFailed || !strings.HasPrefix(aws.ToString(qe.Status.StateChangeReason), "COLUMN_NOT_FOUND") ||
		qe.Status.AthenaError == nil || aws.ToInt32(qe.Status.AthenaError.ErrorType) != 1006 {
		t.Errorf("failed query status = %+v", qe.Status)
	}
	if _, err := c.GetQueryResults(t.Context(), &athena.GetQueryResultsInput{QueryExecutionId: aws.String(failed)}); apiCode(err) != "InvalidRequestException" {
		t.Errorf("results of a failed query: %v, want InvalidRequestException", err)
	}

	qe = pollState(t, c, big) // RUNNING has scanned half: 25 MB, past the 10 MB cutoff
	if qe.Status.State != types.QueryExecutionStateCancelled || aws.ToString(qe.Status.StateChangeReason) != "Bytes scanned limit was exceeded" ||
		aws.ToInt64(qe.Statistics.DataScannedInBytes) != 10_000_000 {
		t.Errorf("over the cutoff: state %s, reason %q, scanned %d; want CANCELLED by the limit having scanned 10000000",
			qe.Status.State, aws.ToString(qe.Status.StateChangeReason), aws.ToInt64(qe.Statistics.DataScannedInBytes))
	}

	qe = pollState(t, c, wrongParams)
	if qe.Status.State != types.QueryExecutionStateFailed || aws.ToString(qe.Status.StateChangeReason) != "Incorrect number of parameters: expected 2 but found 1" {
		t.Errorf("a query with the wrong number of parameters: %s %q", qe.Status.State, aws.ToString(qe.Status.StateChangeReason))
	}
}

func TestAthenaStopAndUnknownIDs(t *testing.T) {
	w, c := athenaWorld(t)
	w.Gateway.ScriptAthena(AthenaScript{Queued: 1, Hold: true})
	id := startQuery(t, c, "SELECT 1")
	for range 3 {
		pollState(t, c, id)
	}
	if got := pollState(t, c, id).Status.State; got != types.QueryExecutionStateRunning {
		t.Fatalf("held query = %s, want RUNNING", got)
	}
	if _, err := c.StopQueryExecution(t.Context(), &athena.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if got := pollState(t, c, id).Status.State; got != types.QueryExecutionStateCancelled {
		t.Errorf("stopped query = %s, want CANCELLED", got)
	}
	if ex := w.Gateway.AthenaExecutions(); len(ex) != 1 || !ex[0].Stopped || ex[0].State != "CANCELLED" {
		t.Errorf("executions = %+v, want the one stopped", ex)
	}
	unknown := aws.String("11111111-2222-3333-4444-555555555555")
	if _, err := c.GetQueryExecution(t.Context(), &athena.GetQueryExecutionInput{QueryExecutionId: unknown}); apiCode(err) != "InvalidRequestException" {
		t.Errorf("get unknown: %v, want InvalidRequestException", err)
	}
	if _, err := c.StopQueryExecution(t.Context(), &athena.StopQueryExecutionInput{QueryExecutionId: unknown}); apiCode(err) != "InvalidRequestException" {
		t.Errorf("stop unknown: %v, want InvalidRequestException", err)
	}
	// Another account does not see the query.
	other := athena.NewFromConfig(w.Config("us-east-1", w.Admin(SecondAccount)))
	if _, err := other.GetQueryExecution(t.Context(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)}); apiCode(err) != "InvalidRequestException" {
		t.Errorf("another account's query: %v, want InvalidRequestException", err)
	}
}

func TestAthenaStartRules(t *testing.T) {
	w, c := athenaWorld(t)
	ctx := t.Context()
	in := func(sql, token, wg string) *athena.StartQueryExecutionInput {
		return &athena.StartQueryExecutionInput{QueryString: aws.String(sql), ClientRequestToken: aws.String(token), WorkGroup: aws.String(wg)}
	}
	token := strings.Repeat("t", 32)
	a, err := c.StartQueryExecution(ctx, in("SELECT 1", token, "wg"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.StartQueryExecution(ctx, in("SELECT 1", token, "wg"))
	if err != nil || aws.ToString(b.QueryExecutionId) != aws.ToString(a.QueryExecutionId) {
		t.Errorf("same token, same query: %v, %v; want the same query ID", b, err)
	}
	if _, err := c.StartQueryExecution(ctx, in("SELECT 2", token, "wg")); apiCode(err) != "InvalidRequestException" {
		t.Errorf("same token, another query: %v, want InvalidRequestException", err)
	}
	if _, err := c.StartQueryExecution(ctx, in("SELECT 1", strings.Repeat("u", 32), "nosuch")); apiCode(err) != "InvalidRequestException" ||
		!strings.Contains(err.Error(), "WorkGroup is not found") {
		t.Errorf("unknown workgroup: %v, want InvalidRequestException", err)
	}
	// primary has no result location: the client must give one.
	if _, err := c.StartQueryExecution(ctx, in("SELECT 1", strings.Repeat("v", 32), "primary")); apiCode(err) != "InvalidRequestException" {
		t.Errorf("no output location: %v, want InvalidRequestException", err)
	}
	withLocation := in("SELECT 1", strings.Repeat("w", 32), "primary")
	withLocation.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String("s3://mine/out")}
	out, err := c.StartQueryExecution(ctx, withLocation)
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(pollState(t, c, aws.ToString(out.QueryExecutionId)).ResultConfiguration.OutputLocation); got != "s3://mine/out/"+aws.ToString(out.QueryExecutionId)+".csv" {
		t.Errorf("output location = %q, want the client's", got)
	}
	if got := len(w.Gateway.AthenaExecutions()); got != 2 {
		t.Errorf("%d queries started, want 2 (a repeated token starts none)", got)
	}
}

func TestAthenaThrottles(t *testing.T) {
	w, c := athenaWorld(t)
	w.Gateway.ThrottleAthena(AthenaThrottle{Op: "StartQueryExecution", Times: 2})
	w.Gateway.ThrottleAthena(AthenaThrottle{Op: "GetQueryExecution", Code: "TooManyRequestsException"})
	for i, want := range []string{"ThrottlingException", "ThrottlingException", ""} {
		_, err := c.StartQueryExecution(t.Context(), &athena.StartQueryExecutionInput{QueryString: aws.String("SELECT 1"), WorkGroup: aws.String("wg"),
			ClientRequestToken: aws.String(strings.Repeat("x", 32))})
		if got := apiCode(err); got != want {
			t.Errorf("start %d: %v, want %q", i+1, err, want)
		}
	}
	id := w.Gateway.AthenaExecutions()[0].ID
	_, err := c.GetQueryExecution(t.Context(), &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
	if apiCode(err) != "TooManyRequestsException" {
		t.Errorf("get: %v, want TooManyRequestsException", err)
	}
	if got := pollState(t, c, id).Status.State; got != types.QueryExecutionStateSucceeded {
		t.Errorf("after the throttles: %s, want SUCCEEDED", got)
	}
	var throttled int
	for _, e := range w.Gateway.Events() {
		if e.EventSource == "athena.amazonaws.com" && e.ErrorCode != "" {
			throttled++
		}
	}
	if throttled != 3 {
		t.Errorf("%d throttled calls recorded, want 3", throttled)
	}
}

func TestCountParams(t *testing.T) {
	tests := []struct {
		sql  string
		want int
	}{
		{"SELECT 1", 0},
		{"SELECT a FROM t WHERE b IN (?, ?)", 2},
		{"SELECT '?', \"?\" FROM t WHERE b = ?", 1},
		{"SELECT 'it''s ?' FROM t WHERE b = ? -- and ?\nAND c = ?", 2},
		{"SELECT /* ? */ a FROM t WHERE b = ?", 1},
		{"SELECT 'unterminated ?", 0},
	}
	for _, tt := range tests {
		if got := countParams(tt.sql); got != tt.want {
			t.Errorf("countParams(%q) = %d, want %d", tt.sql, got, tt.want)
		}
	}
}
