package awsops

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
)

// The SQL keyleak sends to Athena over the organisation trail table
// (deploy/aws/athena.yaml; docs/athena.md). Builders validate everything
// they are given: the table name and the accounts (which must be literals
// for partition projection to prune on them) are checked against closed
// patterns before they are written into the SQL; keys and IP addresses
// travel only as ExecutionParameters, each a quoted SQL literal.

// Query names, as AthenaRun reports them.
const (
	AthenaKeyObjects = "key-objects"
	AthenaIPSeen     = "ip-seen"
)

var (
	athenaName    = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)
	athenaAccount = regexp.MustCompile(`^[0-9]{12}$`)
	athenaKeyID   = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// maxAthenaParams bounds the ExecutionParameters of one query; a larger
// set of keys or addresses is split by the caller.
const maxAthenaParams = 500

// athenaMinted is the access key an event minted: the credentials of an
// STS session call, or the key of iam:CreateAccessKey; indent is its
// continuation lines'.
func athenaMinted(indent string) string {
	return "CASE WHEN eventsource = 'iam.amazonaws.com' AND eventname = 'CreateAccessKey'\n" +
		indent + "THEN json_extract_scalar(responseelements, '$.accessKey.accessKeyId')\n" +
		indent + "ELSE json_extract_scalar(responseelements, '$.credentials.accessKeyId') END"
}

// KeyObjectsQuery asks which trail log files hold the events made by, or
// minting, one of keys between from and to (inclusive), in accounts (all
// of the table's when empty). Each row names the file ("object", its s3://
// URI), the event's partition (account, region), eventtime, eventid, the
// key that made it (accesskeyid) and the key it minted (minted, NULL for
// most events).
func KeyObjectsQuery(o AthenaOptions, accounts, keys []string, from, to time.Time) (AthenaQuery, error) {
	fromWhere, err := athenaFromWhere(o, from, to)
	if err != nil {
		return AthenaQuery{}, err
	}
	if accounts, err = canonical(accounts, "account", matching(athenaAccount, "12 digits")); err != nil {
		return AthenaQuery{}, err
	}
	if keys, err = canonical(keys, "access key id", matching(athenaKeyID, "16 to 128 upper-case letters and digits")); err != nil {
		return AthenaQuery{}, err
	}
	if len(keys) == 0 {
		return AthenaQuery{}, errors.New("athena key objects query: no access key ids")
	}
	if 2*len(keys) > maxAthenaParams {
		return AthenaQuery{}, fmt.Errorf("athena key objects query: %d access key ids, at most %d in one query", len(keys), maxAthenaParams/2)
	}
	var b strings.Builder
	b.WriteString(`SELECT "$path" AS object, account, region, eventtime, eventid,
  useridentity.accesskeyid AS accesskeyid,
  ` + athenaMinted("    ") + ` AS minted
` + fromWhere)
	if len(accounts) > 0 {
		quoted := make([]string, len(accounts))
		for i, a := range accounts {
			quoted[i] = sqlString(a)
		}
		b.WriteString("\n  AND account IN (" + strings.Join(quoted, ", ") + ")")
	}
	marks := placeholders(len(keys))
	b.WriteString("\n  AND (useridentity.accesskeyid IN (" + marks + ")\n    OR " + athenaMinted("         ") + " IN (" + marks + "))\nORDER BY eventtime, eventid")
	params := make([]string, 0, 2*len(keys))
	for range 2 {
		for _, k := range keys {
			params = append(params, sqlString(k))
		}
	}
	return AthenaQuery{Name: AthenaKeyObjects, SQL: b.String(), Params: params}, nil
}

// IPSeenQuery asks where else in the organisation the source addresses ips
// were seen between from and to: one row per account, region, event
// source, event name, principal ARN (principal_arn) and access key
// (accesskeyid) with the address (sourceipaddress), the number of events
// and the first and last event times (first_seen, last_seen).
func IPSeenQuery(o AthenaOptions, ips []string, from, to time.Time) (AthenaQuery, error) {
	fromWhere, err := athenaFromWhere(o, from, to)
	if err != nil {
		return AthenaQuery{}, err
	}
	ips, err = canonical(ips, "ip address", func(s string) (string, error) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return "", errors.New("not an IP address")
		}
		if a.Zone() != "" {
			return "", errors.New("an address with a zone")
		}
		return a.Unmap().String(), nil
	})
	if err != nil {
		return AthenaQuery{}, err
	}
	if len(ips) == 0 {
		return AthenaQuery{}, errors.New("athena ip query: no addresses")
	}
	if len(ips) > maxAthenaParams {
		return AthenaQuery{}, fmt.Errorf("athena ip query: %d addresses, at most %d in one query", len(ips), maxAthenaParams)
	}
	const columns = "account, region, eventsource, eventname, useridentity.arn, useridentity.accesskeyid, sourceipaddress"
	sql := `SELECT account, region, eventsource, eventname,
  useridentity.arn AS principal_arn, useridentity.accesskeyid AS accesskeyid, sourceipaddress,
  count(*) AS events, min(eventtime) AS first_seen, max(eventtime) AS last_seen
` + fromWhere + `
  AND sourceipaddress IN (` + placeholders(len(ips)) + `)
GROUP BY ` + columns + `
ORDER BY events DESC, account, region, eventsource, eventname, principal_arn, accesskeyid, sourceipaddress`
	params := make([]string, len(ips))
	for i, ip := range ips {
		params[i] = sqlString(ip)
	}
	return AthenaQuery{Name: AthenaIPSeen, SQL: sql, Params: params}, nil
}

// athenaFromWhere is the FROM clause and the window's predicate.
func athenaFromWhere(o AthenaOptions, from, to time.Time) (string, error) {
	table, err := athenaTable(o)
	if err != nil {
		return "", err
	}
	window, err := athenaWindow(from, to)
	if err != nil {
		return "", err
	}
	return "FROM " + table + "\nWHERE " + window, nil
}

// athenaTable is the validated table name of o, quoted: a name Athena
// accepts may begin with a digit or be a reserved word (values), which
// only a quoted identifier may be.
func athenaTable(o AthenaOptions) (string, error) {
	t := o.withDefaults().Table
	if !athenaName.MatchString(t) {
		return "", fmt.Errorf("athena table name %q: want lower-case letters, digits and underscores", t)
	}
	return `"` + t + `"`, nil
}

// athenaWindow is the predicate of the window from..to: the projected
// date partition padded a day on each side (CloudTrail files an event
// under the day it delivered it, UTC), then the exact event times.
func athenaWindow(from, to time.Time) (string, error) {
	from, to = from.UTC(), to.UTC()
	switch {
	case from.IsZero() || to.IsZero():
		return "", errors.New("athena query window: from and to are required")
	case to.Before(from):
		return "", fmt.Errorf("athena query window: %s is before %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	case from.Year() < 2000 || to.Year() > 9998:
		return "", errors.New("athena query window: outside the years 2000 to 9998")
	}
	const day, event = "2006/01/02", "2006-01-02T15:04:05Z"
	return `"timestamp" BETWEEN ` + sqlString(from.AddDate(0, 0, -1).Format(day)) + ` AND ` + sqlString(to.AddDate(0, 0, 1).Format(day)) +
		"\n  AND eventtime BETWEEN " + sqlString(from.Format(event)) + " AND " + sqlString(to.Format(event)), nil
}

// canonical validates and canonicalises each value, then sorts them and
// drops duplicates, so that the same set always gives the same SQL.
func canonical(values []string, what string, check func(string) (string, error)) ([]string, error) {
	out := make([]string, 0, len(values))
	for i, v := range values {
		c, err := check(v)
		if err != nil {
			// The value is not echoed: a secret pasted in the wrong place
			// must not reach a chat or a log.
			return nil, fmt.Errorf("athena query: %s %d of %d: %w", what, i+1, len(values), err)
		}
		out = append(out, c)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// matching checks a value against re, which wants.
func matching(re *regexp.Regexp, wants string) func(string) (string, error) {
	return func(s string) (string, error) {
		if !re.MatchString(s) {
			return "", errors.New("want " + wants)
		}
		return s, nil
	}
}

// sqlString is s as a SQL string literal.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// placeholders is n execution-parameter marks.
func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
