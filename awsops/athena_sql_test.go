package awsops_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/keyleak/keyleak/awsops"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// athenaGolden are the queries whose SQL is kept in testdata/athena, built
// on one fixed clock.
func athenaGolden(tb testing.TB) map[string]awsops.AthenaQuery {
	tb.Helper()
	from := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	to := from.Add(50 * time.Hour)
	must := func(q awsops.AthenaQuery, err error) awsops.AthenaQuery {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
		return q
	}
	return map[string]awsops.AthenaQuery{
		"key_objects": must(awsops.KeyObjectsQuery(awsops.AthenaOptions{}, []string{"222222222222", "111111111111", "222222222222"},
			[]string{"ASIAY34FZKBOKMUTVV7A", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"}, from, to)),
		"key_objects_org": must(awsops.KeyObjectsQuery(awsops.AthenaOptions{Table: "trail_2026"}, nil, []string{"AKIAIOSFODNN7EXAMPLE"}, from, to)),
		"ip_seen": must(awsops.IPSeenQuery(awsops.AthenaOptions{}, []string{"203.0.113.7", "2001:DB8::1", "::ffff:198.51.100.9"},
			from, to)),
	}
}

func TestAthenaQueriesGolden(t *testing.T) {
	wantParams := map[string][]string{
		"key_objects":     {"'AKIAIOSFODNN7EXAMPLE'", "'ASIAY34FZKBOKMUTVV7A'", "'AKIAIOSFODNN7EXAMPLE'", "'ASIAY34FZKBOKMUTVV7A'"},
		"key_objects_org": {"'AKIAIOSFODNN7EXAMPLE'", "'AKIAIOSFODNN7EXAMPLE'"},
		"ip_seen":         {"'198.51.100.9'", "'2001:db8::1'", "'203.0.113.7'"},
	}
	for name, q := range athenaGolden(t) {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "athena", name+".sql")
			got := q.SQL + "\n"
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./awsops -run AthenaQueriesGolden -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from its golden file:\ngot:\n%s\nwant:\n%s", path, got, want)
			}
			if !slices.Equal(q.Params, wantParams[name]) {
				t.Errorf("params = %q, want %q", q.Params, wantParams[name])
			}
			if n := strings.Count(q.SQL, "?"); n != len(q.Params) {
				t.Errorf("%d marks for %d params", n, len(q.Params))
			}
		})
	}
}

// tableColumns reads the shipped table definition
// (deploy/aws/athena-table.sql): every column, partition and nested field,
// as dotted lower-case paths, plus Hive's hidden "$path".
func tableColumns(tb testing.TB) map[string]bool {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "deploy", "aws", "athena-table.sql"))
	if err != nil {
		tb.Fatal(err)
	}
	ddl := regexp.MustCompile(`(?m)--.*$`).ReplaceAllString(string(data), "")
	cols := map[string]bool{"$path": true}
	for _, section := range []string{"CREATE EXTERNAL TABLE IF NOT EXISTS cloudtrail_org (", "PARTITIONED BY ("} {
		i := strings.Index(ddl, section)
		if i < 0 {
			tb.Fatalf("athena-table.sql has no %q", section)
		}
		body := ddl[i+len(section):]
		body = body[:closing(body)]
		for _, field := range splitTop(body) {
			name, typ, _ := strings.Cut(strings.TrimSpace(field), " ")
			addColumns(cols, strings.ToLower(strings.Trim(name, "`")), strings.TrimSpace(typ))
		}
	}
	return cols
}

// closing is the index of the ) that closes an already open (.
func closing(s string) int {
	depth := 0
	for i, r := range s {
		switch r {
		case '(', '<':
			depth++
		case ')', '>':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return len(s)
}

// splitTop splits s at the commas outside <> and ().
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(', '<':
			depth++
		case ')', '>':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if strings.TrimSpace(s[start:]) != "" {
		out = append(out, s[start:])
	}
	return out
}

// addColumns adds path and, for a STRUCT, its fields' paths.
func addColumns(cols map[string]bool, path, typ string) {
	cols[path] = true
	upper := strings.ToUpper(typ)
	if !strings.HasPrefix(upper, "STRUCT<") {
		return // scalars, and arrays and maps, which the queries do not reach into
	}
	for _, f := range splitTop(typ[len("STRUCT<") : len(typ)-1]) {
		name, sub, _ := strings.Cut(strings.TrimSpace(f), ":")
		addColumns(cols, path+"."+strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(sub))
	}
}

// sqlColumns lists the columns a query of keyleak's names: identifiers
// outside string literals that are not keywords, functions, aliases or
// the table. Keywords are written in upper case, columns in lower case.
func sqlColumns(sql, table string) []string {
	sql = regexp.MustCompile(`'(?:[^']|'')*'`).ReplaceAllString(sql, "''")
	tokens := regexp.MustCompile(`"[^"]*"|[A-Za-z_][A-Za-z0-9_.]*|\S`).FindAllString(sql, -1)
	keywords := map[string]bool{}
	for _, k := range strings.Fields("SELECT AS FROM WHERE AND OR NOT IN IS NULL BETWEEN CASE WHEN THEN ELSE END GROUP BY ORDER ASC DESC") {
		keywords[k] = true
	}
	aliases := map[string]bool{}
	var names []string
	for i, tok := range tokens {
		switch {
		case keywords[tok]:
		case i > 0 && tokens[i-1] == "AS":
			aliases[tok] = true
		case i > 0 && tokens[i-1] == "FROM" && tok == `"`+table+`"`:
		case i+1 < len(tokens) && tokens[i+1] == "(":
			// a function
		case strings.HasPrefix(tok, `"`):
			names = append(names, strings.Trim(tok, `"`))
		case unicode.IsLetter(rune(tok[0])) || tok[0] == '_':
			names = append(names, tok)
		}
	}
	var cols []string
	for _, n := range names {
		if !aliases[n] {
			cols = append(cols, n)
		}
	}
	slices.Sort(cols)
	return slices.Compact(cols)
}

func TestSQLColumns(t *testing.T) {
	got := sqlColumns(`SELECT "$path" AS object, count(*) AS n, useridentity.arn FROM "t" WHERE "timestamp" = 'x y' AND nosuch IN (?) ORDER BY n`, "t")
	if want := []string{"$path", "nosuch", "timestamp", "useridentity.arn"}; !slices.Equal(got, want) {
		t.Errorf("sqlColumns = %q, want %q", got, want)
	}
}

// TestAthenaColumnsInTable: every column keyleak's SQL names is in the
// table keyleak ships, so no query fails with COLUMN_NOT_FOUND.
func TestAthenaColumnsInTable(t *testing.T) {
	table := tableColumns(t)
	for _, want := range []string{"useridentity.accesskeyid", "useridentity.sessioncontext.sessionissuer.arn", "account", "timestamp", "tlsdetails.tlsversion"} {
		if !table[want] {
			t.Fatalf("the table parse lacks %s; it is broken", want)
		}
	}
	if table["nosuch"] {
		t.Fatal("the table parse invents columns")
	}
	for name, q := range athenaGolden(t) {
		tableName := "cloudtrail_org"
		if name == "key_objects_org" {
			tableName = "trail_2026"
		}
		cols := sqlColumns(q.SQL, tableName)
		if len(cols) < 5 {
			t.Errorf("%s: found only columns %q; the scan is broken", name, cols)
		}
		for _, c := range cols {
			if !table[c] {
				t.Errorf("%s names column %s, which deploy/aws/athena-table.sql does not define", name, c)
			}
		}
	}
}

// TestAthenaTableNameQuoted: a table name keyleak accepts is written as a
// quoted identifier, so that one beginning with a digit, or a reserved
// word, is a table to Athena and not a syntax error.
func TestAthenaTableNameQuoted(t *testing.T) {
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for _, table := range []string{"2026_trail", "values", "table"} {
		q, err := awsops.KeyObjectsQuery(awsops.AthenaOptions{Table: table}, nil, []string{"AKIAIOSFODNN7EXAMPLE"}, from, from.Add(time.Hour))
		if err != nil {
			t.Fatalf("table %q: %v", table, err)
		}
		if !strings.Contains(q.SQL, "\nFROM \""+table+"\"\n") {
			t.Errorf("table %q is not written quoted:\n%s", table, q.SQL)
		}
	}
}

func TestAthenaQueriesRejected(t *testing.T) {
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	key := []string{"AKIAIOSFODNN7EXAMPLE"}
	tooMany := make([]string, 251)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("AKIA%016d", i)
	}
	tests := []struct {
		name     string
		o        awsops.AthenaOptions
		accounts []string
		keys     []string
		from, to time.Time
	}{
		{"table with a quote", awsops.AthenaOptions{Table: "t'; DROP TABLE x; --"}, nil, key, from, to},
		{"table with upper case", awsops.AthenaOptions{Table: "CloudTrail"}, nil, key, from, to},
		{"table qualified", awsops.AthenaOptions{Table: "db.t"}, nil, key, from, to},
		{"account too short", awsops.AthenaOptions{}, []string{"12345678901"}, key, from, to},
		{"account with a quote", awsops.AthenaOptions{}, []string{"12345678901'"}, key, from, to},
		{"key lower case", awsops.AthenaOptions{}, nil, []string{"akiaiosfodnn7example"}, from, to},
		{"key with a quote", awsops.AthenaOptions{}, nil, []string{"AKIAIOSFODNN7EXAM'LE"}, from, to},
		{"key too short", awsops.AthenaOptions{}, nil, []string{"AKIA1234"}, from, to},
		{"secret instead of a key", awsops.AthenaOptions{}, nil, []string{"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, from, to},
		{"no keys", awsops.AthenaOptions{}, nil, nil, from, to},
		{"too many keys", awsops.AthenaOptions{}, nil, tooMany, from, to},
		{"no window", awsops.AthenaOptions{}, nil, key, time.Time{}, to},
		{"window backwards", awsops.AthenaOptions{}, nil, key, to, from},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := awsops.KeyObjectsQuery(tt.o, tt.accounts, tt.keys, tt.from, tt.to)
			if err == nil {
				t.Fatalf("accepted, giving %q", q.SQL)
			}
			for _, in := range append(tt.keys, tt.accounts...) {
				if len(in) > 4 && strings.Contains(err.Error(), in) {
					t.Errorf("error %q echoes the input %q", err, in)
				}
			}
			if strings.ToLower(err.Error()[:1]) != err.Error()[:1] {
				t.Errorf("error %q is not lower-case", err)
			}
		})
	}
	for _, ip := range []string{"203.0.113.7'", "fe80::1%eth0", "203.0.113.0/24", "ec2.amazonaws.com", ""} {
		if q, err := awsops.IPSeenQuery(awsops.AthenaOptions{}, []string{ip}, from, to); err == nil {
			t.Errorf("IPSeenQuery(%q) accepted, giving %q", ip, q.SQL)
		}
	}
}

// literalsOf lists the string literals of sql.
func literalsOf(sql string) []string {
	return regexp.MustCompile(`'((?:[^']|'')*)'`).FindAllString(sql, -1)
}

var fixedLiteral = regexp.MustCompile(`^'(\d{4}/\d{2}/\d{2}|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z|iam\.amazonaws\.com|CreateAccessKey|\$\.accessKey\.accessKeyId|\$\.credentials\.accessKeyId)'$`)

// checkNoInputOutsideParams: the SQL's literals are the builder's own or
// validated accounts; the other input reaches Athena only as parameters.
func checkNoInputOutsideParams(t *testing.T, q awsops.AthenaQuery, accounts, values []string) {
	t.Helper()
	if strings.Count(q.SQL, "?") != len(q.Params) {
		t.Errorf("%d marks, %d params", strings.Count(q.SQL, "?"), len(q.Params))
	}
	for _, lit := range literalsOf(q.SQL) {
		if !fixedLiteral.MatchString(lit) && !slices.Contains(accounts, strings.Trim(lit, "'")) {
			t.Errorf("literal %s in the SQL is neither keyleak's nor an account", lit)
		}
	}
	for _, v := range values {
		if v != "" && strings.Contains(q.SQL, v) {
			t.Errorf("input %q appears in the SQL", v)
		}
	}
	for _, p := range q.Params {
		if !regexp.MustCompile(`^'[^']+'$`).MatchString(p) {
			t.Errorf("param %q is not one quoted literal", p)
		}
	}
}

func FuzzKeyObjectsQuery(f *testing.F) {
	f.Add("cloudtrail_org", "111111111111,222222222222", "AKIAIOSFODNN7EXAMPLE,ASIAY34FZKBOKMUTVV7A", int64(1_795_000_000), int64(86400))
	f.Add("t'--", "1", "AKIA'", int64(0), int64(-1))
	f.Add("", "", "AAAAAAAAAAAAAAAA", int64(253_402_300_000), int64(0))
	f.Fuzz(func(t *testing.T, table, accountList, keyList string, fromUnix, span int64) {
		split := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		accounts, keys := split(accountList), split(keyList)
		from := time.Unix(fromUnix, 0)
		q, err := awsops.KeyObjectsQuery(awsops.AthenaOptions{Table: table}, accounts, keys, from, from.Add(time.Duration(span)*time.Second))
		if err != nil {
			return
		}
		if table != "" && !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(table) {
			t.Errorf("table %q accepted", table)
		}
		checkNoInputOutsideParams(t, q, accounts, keys)
		// The keys decide the parameters, and how many marks; nothing else.
		distinct := map[string]string{}
		others := make([]string, len(keys))
		for i, k := range keys {
			if _, ok := distinct[k]; !ok {
				distinct[k] = fmt.Sprintf("K%015d", len(distinct))
			}
			others[i] = distinct[k]
		}
		again, err := awsops.KeyObjectsQuery(awsops.AthenaOptions{Table: table}, accounts, others, from, from.Add(time.Duration(span)*time.Second))
		if err != nil || again.SQL != q.SQL {
			t.Errorf("the SQL depends on the keys' text (%v):\n%s\n%s", err, q.SQL, again.SQL)
		}
	})
}

func FuzzIPSeenQuery(f *testing.F) {
	f.Add("203.0.113.7,2001:db8::1", int64(1_795_000_000), int64(3600))
	f.Add("1.2.3.4'--", int64(0), int64(0))
	f.Fuzz(func(t *testing.T, ipList string, fromUnix, span int64) {
		ips := strings.Split(ipList, ",")
		from := time.Unix(fromUnix, 0)
		q, err := awsops.IPSeenQuery(awsops.AthenaOptions{}, ips, from, from.Add(time.Duration(span)*time.Second))
		if err != nil {
			return
		}
		checkNoInputOutsideParams(t, q, nil, ips)
	})
}
