package world

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Athena as AWS runs it, where moto does not. moto (5.2.1) stores queries
// and hands out the results seeded through
// /moto-api/static/athena/query-results, but every query is SUCCEEDED at
// once, FAILED cannot happen, statistics are zero, results are not paged,
// unknown query IDs give HTML 500s, ClientRequestToken is ignored, the
// workgroup's settings are never applied and StopQueryExecution cancels
// finished queries. The gateway answers StartQueryExecution (after moto
// has stored the query and bound its results), GetQueryExecution,
// GetQueryResults and StopQueryExecution itself, in the API's shapes
// (API reference, 2017-05-18), and forwards every other Athena call.

// AthenaScript is how the next query started in Account and Region (and
// whose SQL contains Match) runs: each GetQueryExecution is one poll.
type AthenaScript struct {
	Account string // default DefaultAccount
	Region  string // default us-east-1
	Match   string // only a query whose SQL contains it; "" for any

	// Queued and Running polls answer QUEUED, then RUNNING; or Progress
	// lists the state of each poll (QUEUED or RUNNING: a query may go
	// back from RUNNING to QUEUED). The poll after them answers the end.
	Queued, Running int
	Progress        []string
	// Hold keeps the query RUNNING after its progress, until it is stopped.
	Hold bool

	// State is the end: SUCCEEDED (the default), FAILED or CANCELLED,
	// with Reason (StateChangeReason) and, for FAILED, Error.
	State  string
	Reason string
	Error  *AthenaError
	// DataScannedInBytes is what the query reads: half of it while
	// RUNNING, all of it at the end. Past the workgroup's
	// BytesScannedCutoffPerQuery, the query ends CANCELLED ("Bytes scanned
	// limit was exceeded") having scanned the cutoff.
	DataScannedInBytes int64

	// OnPoll, if set, is called after each poll with its number (from 1)
	// and the state it answered, outside the gateway's locks.
	OnPoll func(poll int, state string)

	// Answer, if set, evaluates the query as Athena would over its table,
	// from its SQL and execution parameters; the result is bound to the
	// query when it starts (through SetAthenaResults), so that a test can
	// answer queries it cannot foresee.
	Answer func(sql string, params []string) AthenaResult
}

// AthenaError is Status.AthenaError of a FAILED query.
type AthenaError struct {
	Category  int // 1 system, 2 user, 3 other
	Type      int // docs.aws.amazon.com/athena/latest/ug/error-reference.html
	Retryable bool
	Message   string
}

// AthenaThrottle makes the next Times calls of Op (StartQueryExecution,
// GetQueryExecution, GetQueryResults or StopQueryExecution; "" for any of
// them) fail with Code: ThrottlingException (the API's rate, the default)
// or TooManyRequestsException (the active-query quota).
type AthenaThrottle struct {
	Op    string
	Code  string
	Times int
}

// AthenaResult is the result of one SELECT: its columns (varchar) and its
// rows, each by column name; a column a row lacks is NULL.
type AthenaResult struct {
	Columns []string
	Rows    []map[string]string
}

// AthenaWorkGroup is a workgroup to create.
type AthenaWorkGroup struct {
	Account, Region, Name      string // default DefaultAccount, us-east-1
	OutputLocation             string // s3://bucket/prefix/
	Enforce                    bool   // EnforceWorkGroupConfiguration
	BytesScannedCutoffPerQuery int64  // 0 for none; AWS's minimum is 10,000,000
}

// AthenaExecution is a query the world ran, as the world sees it now.
type AthenaExecution struct {
	ID, Account, Region  string
	WorkGroup, Database  string
	SQL                  string
	Params               []string
	ClientRequestToken   string
	OutputLocation       string // of the result file, <location><id>.csv
	State, Reason        string
	Polls                int
	DataScannedInBytes   int64
	Submitted, Completed time.Time
	Stopped              bool // by StopQueryExecution
}

type athenaStore struct {
	mu        sync.Mutex
	queries   map[string]*athenaQuery // scope/id → query
	order     []*athenaQuery
	tokens    map[string]*athenaQuery // scope/token → query
	scripts   []AthenaScript
	throttles []AthenaThrottle
}

type athenaQuery struct {
	AthenaExecution
	script    AthenaScript
	cutoff    int64
	ddl       bool
	err       *AthenaError
	firstRun  time.Time
	results   *athenaResults // from moto, once SUCCEEDED
	fingerKey string         // what a repeated ClientRequestToken must match
}

type athenaResults struct {
	Rows       []any `json:"Rows"`
	ColumnInfo []any `json:"ColumnInfo"`
}

func newAthenaStore() *athenaStore {
	return &athenaStore{queries: map[string]*athenaQuery{}, tokens: map[string]*athenaQuery{}}
}

func (s *athenaStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries, s.tokens, s.order, s.scripts, s.throttles = map[string]*athenaQuery{}, map[string]*athenaQuery{}, nil, nil, nil
}

// ScriptAthena queues s for the next query started that it matches.
func (g *Gateway) ScriptAthena(s AthenaScript) {
	s.Account = cmp.Or(s.Account, DefaultAccount)
	s.Region = cmp.Or(s.Region, "us-east-1")
	s.State = cmp.Or(s.State, "SUCCEEDED")
	g.athena.mu.Lock()
	defer g.athena.mu.Unlock()
	g.athena.scripts = append(g.athena.scripts, s)
}

// ThrottleAthena queues t: the next calls it names are throttled.
func (g *Gateway) ThrottleAthena(t AthenaThrottle) {
	t.Code = cmp.Or(t.Code, "ThrottlingException")
	g.athena.mu.Lock()
	defer g.athena.mu.Unlock()
	g.athena.throttles = append(g.athena.throttles, t)
}

// AthenaExecutions lists the queries started through the gateway, in
// order.
func (g *Gateway) AthenaExecutions() []AthenaExecution {
	g.athena.mu.Lock()
	defer g.athena.mu.Unlock()
	out := make([]AthenaExecution, len(g.athena.order))
	for i, q := range g.athena.order {
		out[i] = q.AthenaExecution
		out[i].Params = slices.Clone(q.Params)
	}
	return out
}

// SetAthenaResults queues results in moto for the next queries started in
// account and region, one each, in order (moto binds a result when a query
// starts). Each result gets the header row a SELECT's first page has.
func (g *Gateway) SetAthenaResults(ctx context.Context, account, region string, results ...AthenaResult) error {
	type datum struct {
		VarCharValue *string `json:",omitempty"`
	}
	type row struct {
		Data []datum `json:"Data"`
	}
	var out []map[string]any
	for _, r := range results {
		header := row{}
		info := make([]map[string]any, len(r.Columns))
		for i, c := range r.Columns {
			header.Data = append(header.Data, datum{VarCharValue: &c})
			info[i] = map[string]any{"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": c, "Label": c,
				"Type": "varchar", "Precision": 2147483647, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": true}
		}
		rows := []row{header}
		for _, m := range r.Rows {
			var rw row
			for _, c := range r.Columns {
				d := datum{}
				if v, ok := m[c]; ok {
					d.VarCharValue = &v
				}
				rw.Data = append(rw.Data, d)
			}
			rows = append(rows, rw)
		}
		out = append(out, map[string]any{"rows": rows, "column_info": info})
	}
	body, err := json.Marshal(map[string]any{"account_id": cmp.Or(account, DefaultAccount), "region": cmp.Or(region, "us-east-1"), "results": out})
	if err != nil {
		return fmt.Errorf("encode athena results: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.cfg.MotoURL+"/moto-api/static/athena/query-results", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("seed athena results: %w", err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("seed athena results: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("seed athena results: status %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// CreateAthenaWorkGroup creates a workgroup in moto.
func (g *Gateway) CreateAthenaWorkGroup(ctx context.Context, wg AthenaWorkGroup) error {
	conf := map[string]any{"EnforceWorkGroupConfiguration": wg.Enforce}
	if wg.OutputLocation != "" {
		conf["ResultConfiguration"] = map[string]any{"OutputLocation": wg.OutputLocation}
	}
	if wg.BytesScannedCutoffPerQuery > 0 {
		conf["BytesScannedCutoffPerQuery"] = wg.BytesScannedCutoffPerQuery
	}
	_, err := g.ownerJSON(ctx, cmp.Or(wg.Account, DefaultAccount), cmp.Or(wg.Region, "us-east-1"), "athena", http.MethodPost, "/",
		"AmazonAthena.CreateWorkGroup", map[string]any{"Name": wg.Name, "Configuration": conf})
	if err != nil {
		return fmt.Errorf("create athena workgroup %s: %w", wg.Name, err)
	}
	return nil
}

// athenaFault is an Athena error answer.
type athenaFault struct {
	status  int
	code    string
	message string
	reason  string // TooManyRequestsException's Reason
}

func invalidRequest(format string, a ...any) *athenaFault {
	return &athenaFault{status: http.StatusBadRequest, code: "InvalidRequestException", message: fmt.Sprintf(format, a...)}
}

// serveAthena answers the Athena calls moto gets wrong; it reports false
// for the others, which are forwarded.
func (g *Gateway) serveAthena(w http.ResponseWriter, r *http.Request, c *call, body []byte) bool {
	switch c.op.Name {
	case "StartQueryExecution", "GetQueryExecution", "GetQueryResults", "StopQueryExecution":
	default:
		return false
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		g.athenaAnswer(w, r, c, nil, invalidRequest("the request body is not JSON"))
		return true
	}
	if f := g.athenaThrottled(c.op.Name); f != nil {
		g.athenaAnswer(w, r, c, nil, f)
		return true
	}
	var out map[string]any
	var f *athenaFault
	var poll func()
	switch c.op.Name {
	case "StartQueryExecution":
		out, f = g.startQuery(r, c, body, in)
	case "GetQueryExecution":
		out, poll, f = g.pollQuery(c, str(in["QueryExecutionId"]))
	case "GetQueryResults":
		out, f = g.queryResults(r.Context(), c, in)
	case "StopQueryExecution":
		out, f = g.stopQuery(c, str(in["QueryExecutionId"]))
	}
	g.athenaAnswer(w, r, c, out, f)
	if poll != nil {
		poll()
	}
	return true
}

func (g *Gateway) athenaThrottled(op string) *athenaFault {
	s := g.athena
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range s.throttles {
		if t.Op != "" && t.Op != op {
			continue
		}
		if t.Times--; t.Times <= 0 {
			s.throttles = slices.Delete(s.throttles, i, i+1)
		} else {
			s.throttles[i] = t
		}
		if t.Code == "TooManyRequestsException" {
			return &athenaFault{status: http.StatusBadRequest, code: t.Code, reason: "CONCURRENT_QUERY_LIMIT_EXCEEDED",
				message: "You have exceeded the limit for the number of queries you can run concurrently. Reduce the number of concurrent queries submitted by this account. Contact customer support to request a concurrent query limit increase."}
		}
		return &athenaFault{status: http.StatusBadRequest, code: t.Code, message: "Rate exceeded"}
	}
	return nil
}

// athenaAnswer writes and records an Athena answer.
func (g *Gateway) athenaAnswer(w http.ResponseWriter, r *http.Request, c *call, out map[string]any, f *athenaFault) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Requestid", c.requestID)
	if f != nil {
		g.record(c, f.code, f.message, nil)
		e := map[string]any{"__type": f.code, "Message": f.message}
		if f.reason != "" {
			e["Reason"] = f.reason
		}
		b, _ := json.Marshal(e)
		h.Set("X-Amzn-Errortype", f.code)
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(f.status)
		_, _ = w.Write(b)
		return
	}
	var elements map[string]any
	if c.op.Name == "StartQueryExecution" {
		elements = map[string]any{"queryExecutionId": out["QueryExecutionId"]}
	}
	g.record(c, "", "", elements)
	b, _ := json.Marshal(out)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// startQuery applies the workgroup, honours ClientRequestToken, lets moto
// store the query (and bind its seeded results), then takes its script.
func (g *Gateway) startQuery(r *http.Request, c *call, body []byte, in map[string]any) (map[string]any, *athenaFault) {
	sql := str(in["QueryString"])
	if sql == "" {
		return nil, invalidRequest("QueryString is required")
	}
	var params []string
	if ps, ok := in["ExecutionParameters"].([]any); ok {
		for _, p := range ps {
			params = append(params, str(p))
		}
	}
	wgName := cmp.Or(str(in["WorkGroup"]), "primary")
	database := ""
	if ctx, ok := in["QueryExecutionContext"].(map[string]any); ok {
		database = str(ctx["Database"])
	}
	clientLocation := ""
	if rc, ok := in["ResultConfiguration"].(map[string]any); ok {
		clientLocation = str(rc["OutputLocation"])
	}
	token := str(in["ClientRequestToken"])
	finger := strings.Join(append([]string{sql, wgName, database, clientLocation}, params...), "\x00")
	scope := c.account + "/" + c.region + "/"
	if token != "" {
		g.athena.mu.Lock()
		q, ok := g.athena.tokens[scope+token]
		g.athena.mu.Unlock()
		if ok && q.fingerKey != finger {
			return nil, invalidRequest("Idempotent parameters do not match")
		}
		if ok {
			return map[string]any{"QueryExecutionId": q.ID}, nil
		}
	}

	wg, err := g.ownerJSON(r.Context(), c.account, c.region, "athena", http.MethodPost, "/", "AmazonAthena.GetWorkGroup", map[string]any{"WorkGroup": wgName})
	if err != nil {
		return nil, internalAthenaError()
	}
	group, _ := wg["WorkGroup"].(map[string]any)
	if group == nil {
		return nil, invalidRequest("WorkGroup is not found.")
	}
	conf, _ := group["Configuration"].(map[string]any)
	enforce, _ := conf["EnforceWorkGroupConfiguration"].(bool)
	groupLocation := ""
	if rc, ok := conf["ResultConfiguration"].(map[string]any); ok {
		groupLocation = str(rc["OutputLocation"])
	}
	cutoff, _ := conf["BytesScannedCutoffPerQuery"].(float64)
	location := clientLocation
	if (enforce && groupLocation != "") || location == "" {
		location = groupLocation
	}
	if location == "" {
		return nil, invalidRequest("No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.")
	}

	if answer := g.athena.peekAnswer(c.account, c.region, sql); answer != nil {
		if err := g.SetAthenaResults(r.Context(), c.account, c.region, answer(sql, params)); err != nil {
			return nil, internalAthenaError()
		}
	}
	resp, err := g.forward(r, c, body)
	if err != nil {
		return nil, internalAthenaError()
	}
	if resp.status/100 != 2 {
		code, msg := responseError(resp.status, resp.header, resp.body)
		return nil, &athenaFault{status: resp.status, code: code, message: msg}
	}
	var started struct{ QueryExecutionId string }
	if json.Unmarshal(resp.body, &started) != nil || started.QueryExecutionId == "" {
		return nil, internalAthenaError()
	}
	if !strings.HasSuffix(location, "/") {
		location += "/"
	}
	q := &athenaQuery{
		AthenaExecution: AthenaExecution{
			ID: started.QueryExecutionId, Account: c.account, Region: c.region, WorkGroup: wgName, Database: database,
			SQL: sql, Params: params, ClientRequestToken: token, OutputLocation: location + started.QueryExecutionId + ".csv",
			State: "QUEUED", Submitted: c.at,
		},
		cutoff: int64(cutoff), fingerKey: finger,
		ddl: slices.ContainsFunc([]string{"ALTER", "CREATE", "DESCRIBE", "DROP", "MSCK", "SHOW"}, func(p string) bool {
			return strings.HasPrefix(strings.ToUpper(strings.TrimSpace(sql)), p)
		}),
	}
	g.athena.mu.Lock()
	defer g.athena.mu.Unlock()
	q.script = g.athena.takeScript(c.account, c.region, sql)
	if want, got := countParams(sql), len(params); want != got {
		// Athena accepts the query, then fails it.
		q.script.State, q.script.Reason = "FAILED", fmt.Sprintf("Incorrect number of parameters: expected %d but found %d", want, got)
		q.script.Error = &AthenaError{Category: 2, Type: 1006}
	}
	g.athena.queries[scope+q.ID] = q
	g.athena.order = append(g.athena.order, q)
	if token != "" {
		g.athena.tokens[scope+token] = q
	}
	return map[string]any{"QueryExecutionId": q.ID}, nil
}

func internalAthenaError() *athenaFault {
	return &athenaFault{status: http.StatusInternalServerError, code: "InternalServerException", message: "We encountered an internal error. Please try again."}
}

// takeScript removes and returns the first script for a query, or the
// default: SUCCEEDED at the first poll. The caller holds s.mu.
// peekAnswer returns the Answer of the script the next query of account,
// region and sql takes, if it has one.
func (s *athenaStore) peekAnswer(account, region, sql string) func(string, []string) AthenaResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sc := range s.scripts {
		if sc.Account == account && sc.Region == region && strings.Contains(sql, sc.Match) {
			return sc.Answer
		}
	}
	return nil
}

func (s *athenaStore) takeScript(account, region, sql string) AthenaScript {
	for i, sc := range s.scripts {
		if sc.Account == account && sc.Region == region && strings.Contains(sql, sc.Match) {
			s.scripts = slices.Delete(s.scripts, i, i+1)
			return sc
		}
	}
	return AthenaScript{State: "SUCCEEDED"}
}

// countParams counts the ? marks of sql outside quotes and comments.
func countParams(sql string) int {
	n := 0
	for i := 0; i < len(sql); i++ {
		switch c := sql[i]; {
		case c == '\'' || c == '"':
			for i++; i < len(sql); i++ {
				if sql[i] == c {
					if i+1 < len(sql) && sql[i+1] == c {
						i++ // doubled: an escaped quote
						continue
					}
					break
				}
			}
		case c == '-' && strings.HasPrefix(sql[i:], "--"):
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return n
			}
			i += end + 3
		case c == '?':
			n++
		}
	}
	return n
}

func terminal(state string) bool {
	return state == "SUCCEEDED" || state == "FAILED" || state == "CANCELLED"
}

func (g *Gateway) lookupQuery(c *call, id string) (*athenaQuery, *athenaFault) {
	if id == "" {
		return nil, invalidRequest("QueryExecutionId is required")
	}
	q, ok := g.athena.queries[c.account+"/"+c.region+"/"+id]
	if !ok {
		return nil, invalidRequest("QueryExecution %s was not found", id)
	}
	return q, nil
}

// pollQuery answers GetQueryExecution, advancing the query's script by
// one poll; the returned func calls the script's OnPoll.
func (g *Gateway) pollQuery(c *call, id string) (map[string]any, func(), *athenaFault) {
	s := g.athena
	s.mu.Lock()
	defer s.mu.Unlock()
	q, f := g.lookupQuery(c, id)
	if f != nil {
		return nil, nil, f
	}
	var poll func()
	if !terminal(q.State) {
		q.Polls++
		q.advance(c.at)
		if on := q.script.OnPoll; on != nil {
			n, state := q.Polls, q.State
			poll = func() { on(n, state) }
		}
	}
	return map[string]any{"QueryExecution": q.execution(c.at)}, poll, nil
}

// advance moves the query to the state its script gives the current poll.
func (q *athenaQuery) advance(now time.Time) {
	sc := q.script
	progress := sc.Progress
	if len(progress) == 0 {
		progress = slices.Repeat([]string{"QUEUED"}, sc.Queued)
		progress = append(progress, slices.Repeat([]string{"RUNNING"}, sc.Running)...)
	}
	switch {
	case q.Polls <= len(progress):
		q.State = progress[q.Polls-1]
	case sc.Hold:
		q.State = "RUNNING"
	default:
		q.State, q.Reason, q.err = sc.State, sc.Reason, sc.Error
		q.DataScannedInBytes = sc.DataScannedInBytes
		q.Completed = now
	}
	if q.State == "RUNNING" {
		if q.firstRun.IsZero() {
			q.firstRun = now
		}
		q.DataScannedInBytes = sc.DataScannedInBytes / 2
	}
	if q.cutoff > 0 && q.DataScannedInBytes > q.cutoff {
		q.State, q.Reason, q.err = "CANCELLED", "Bytes scanned limit was exceeded", nil
		q.DataScannedInBytes = q.cutoff
		q.Completed = now
	}
}

// execution is the query's QueryExecution.
func (q *athenaQuery) execution(now time.Time) map[string]any {
	status := map[string]any{"State": q.State, "SubmissionDateTime": epoch(q.Submitted)}
	if q.Reason != "" {
		status["StateChangeReason"] = q.Reason
	}
	if e := q.err; e != nil {
		status["AthenaError"] = map[string]any{"ErrorCategory": e.Category, "ErrorType": e.Type, "Retryable": e.Retryable,
			"ErrorMessage": cmp.Or(e.Message, q.Reason)}
	}
	end := now
	if terminal(q.State) {
		status["CompletionDateTime"] = epoch(q.Completed)
		end = q.Completed
	}
	queued := end
	if !q.firstRun.IsZero() {
		queued = q.firstRun
	}
	total := max(end.Sub(q.Submitted).Milliseconds(), 0)
	queue := min(max(queued.Sub(q.Submitted).Milliseconds(), 0), total)
	statement := "DML"
	if q.ddl {
		statement = "DDL"
	}
	out := map[string]any{
		"QueryExecutionId": q.ID, "Query": q.SQL, "StatementType": statement,
		"ResultConfiguration":      map[string]any{"OutputLocation": q.OutputLocation},
		"ResultReuseConfiguration": map[string]any{"ResultReuseByAgeConfiguration": map[string]any{"Enabled": false}},
		"QueryExecutionContext":    map[string]any{"Database": q.Database, "Catalog": "awsdatacatalog"},
		"Status":                   status,
		"Statistics": map[string]any{
			"EngineExecutionTimeInMillis": total - queue, "DataScannedInBytes": q.DataScannedInBytes,
			"TotalExecutionTimeInMillis": total, "QueryQueueTimeInMillis": queue,
			"ServicePreProcessingTimeInMillis": 0, "QueryPlanningTimeInMillis": 0, "ServiceProcessingTimeInMillis": 0,
			"ResultReuseInformation": map[string]any{"ReusedPreviousResult": false},
		},
		"WorkGroup":     q.WorkGroup,
		"EngineVersion": map[string]any{"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"},
	}
	if !q.ddl {
		out["SubstatementType"] = "SELECT"
	}
	if len(q.Params) > 0 {
		out["ExecutionParameters"] = q.Params
	}
	return out
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// stopQuery cancels a query that has not ended; a finished one keeps its state.
func (g *Gateway) stopQuery(c *call, id string) (map[string]any, *athenaFault) {
	s := g.athena
	s.mu.Lock()
	defer s.mu.Unlock()
	q, f := g.lookupQuery(c, id)
	if f != nil {
		return nil, f
	}
	if !terminal(q.State) {
		q.State, q.Completed, q.Stopped = "CANCELLED", c.at, true
	}
	return map[string]any{}, nil
}

// queryResults answers GetQueryResults of a SUCCEEDED query a page at a
// time: MaxResults rows (1 to 1000, default 1000) from where NextToken
// says, the first page starting with the header row.
func (g *Gateway) queryResults(ctx context.Context, c *call, in map[string]any) (map[string]any, *athenaFault) {
	id := str(in["QueryExecutionId"])
	size := 1000
	if v, ok := in["MaxResults"].(float64); ok {
		if v < 1 || v > 1000 {
			return nil, invalidRequest("1 validation error detected: Value '%v' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 1000", v)
		}
		size = int(v)
	}
	g.athena.mu.Lock()
	q, f := g.lookupQuery(c, id)
	var state string
	var res *athenaResults
	if f == nil {
		state, res = q.State, q.results
	}
	g.athena.mu.Unlock()
	switch {
	case f != nil:
		return nil, f
	case state == "FAILED" || state == "CANCELLED":
		return nil, invalidRequest("Query did not finish successfully. Final query state: %s", state)
	case state != "SUCCEEDED":
		return nil, invalidRequest("Query has not yet finished. Current state: %s", state)
	}
	if res == nil {
		out, err := g.ownerJSON(ctx, c.account, c.region, "athena", http.MethodPost, "/", "AmazonAthena.GetQueryResults", map[string]any{"QueryExecutionId": id})
		if err != nil {
			return nil, internalAthenaError()
		}
		rs, _ := out["ResultSet"].(map[string]any)
		meta, _ := rs["ResultSetMetadata"].(map[string]any)
		rows, _ := rs["Rows"].([]any)
		info, _ := meta["ColumnInfo"].([]any)
		res = &athenaResults{Rows: rows, ColumnInfo: info}
		g.athena.mu.Lock()
		if q.results == nil {
			q.results = res
		}
		res = q.results
		g.athena.mu.Unlock()
	}
	from := 0
	if t := str(in["NextToken"]); t != "" {
		n, ok := parsePageToken(t, id)
		if !ok || n > len(res.Rows) {
			return nil, invalidRequest("The NextToken provided is not valid.")
		}
		from = n
	}
	to := min(from+size, len(res.Rows))
	out := map[string]any{
		"UpdateCount": 0,
		"ResultSet": map[string]any{
			"Rows":              orEmpty(res.Rows[from:to]),
			"ResultSetMetadata": map[string]any{"ColumnInfo": orEmpty(res.ColumnInfo)},
		},
	}
	if to < len(res.Rows) {
		out["NextToken"] = pageToken(id, to)
	}
	return out, nil
}

func orEmpty(v []any) []any {
	if v == nil {
		return []any{}
	}
	return v
}

// pageToken is an opaque token for the rows of query id from row n on.
func pageToken(id string, n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("athena-page\x00" + id + "\x00" + strconv.Itoa(n)))
}

func parsePageToken(t, id string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return 0, false
	}
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 || parts[0] != "athena-page" || parts[1] != id {
		return 0, false
	}
	n, err := strconv.Atoi(parts[2])
	return n, err == nil && n >= 0
}
