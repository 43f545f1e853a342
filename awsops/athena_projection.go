package awsops

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// athenaProjection is what the Athena table's partition projection
// answers for. Athena reads only the partitions the projection makes:
// with an enum of accounts (or of regions), an account not listed (one
// that joined the organisation after the table was made, say) is answered
// with nothing, as if it had no event; so is a day outside the projected
// range, and every file when the table's storage.location.template is not
// the folder read. Those files are then read directly.
type athenaProjection struct {
	enabled           bool
	accounts, regions []string // an enum's values; nil: any
	location          string   // storage.location.template
	// days is the projected range of "timestamp" (delivery days): from
	// and to, each a yyyy/MM/dd day or NOW with an offset, or bad when
	// the column is projected in a way keyleak's queries cannot use.
	daysFrom, daysTo string
	bad              string // why the table answers nothing, "" when it may
	err              error  // the table's definition could not be read: taken to answer any
}

// athenaProjectionOf reads the projection of o's table from the Glue Data
// Catalog (glue:GetTable, which Athena's own queries need too).
func (c *Client) athenaProjectionOf(ctx context.Context, o AthenaOptions) athenaProjection {
	o = o.withDefaults()
	client, err := cachedClient(ctx, c, "glue", o.Account, o.Region, func(cfg aws.Config) *glue.Client { return glue.NewFromConfig(cfg) })
	if err != nil {
		return athenaProjection{err: err}
	}
	out, err := client.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String(o.Database), Name: aws.String(o.Table)})
	if err != nil {
		return athenaProjection{err: err}
	}
	if out.Table == nil {
		return athenaProjection{}
	}
	return projectionOf(out.Table.Parameters)
}

// projectionOf reads a table's projection properties
// (docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html):
// type names are compared without case or surrounding white space; an
// enum's values are split at commas, white space being part of a value.
// Without projection, partitions are the catalog's, which keyleak cannot
// weigh: any is answered (and a gap says so).
func projectionOf(params map[string]string) athenaProjection {
	var p athenaProjection
	if !strings.EqualFold(strings.TrimSpace(params["projection.enabled"]), "true") {
		return p
	}
	p.enabled = true
	typ := func(column string) string {
		return strings.ToLower(strings.TrimSpace(params["projection."+column+".type"]))
	}
	enum := func(column string) []string {
		if typ(column) != "enum" {
			return nil
		}
		return strings.Split(params["projection."+column+".values"], ",")
	}
	p.accounts, p.regions = enum("account"), enum("region")
	p.location = strings.TrimSuffix(strings.TrimSpace(params["storage.location.template"]), "/")
	if typ("timestamp") == "date" {
		from, to, ok := strings.Cut(params["projection.timestamp.range"], ",")
		switch {
		case strings.TrimSpace(params["projection.timestamp.format"]) != "yyyy/MM/dd":
			p.bad = "its timestamp partition is not projected as yyyy/MM/dd days, as keyleak's queries name them"
		case !ok:
			p.bad = "its timestamp partition has no range"
		default:
			p.daysFrom, p.daysTo = strings.TrimSpace(from), strings.TrimSpace(to)
		}
	}
	return p
}

// reads checks that the table reads the layout's folder, and says why
// not in p.bad. Without projection, keyleak cannot tell.
func (p *athenaProjection) reads(l trailLayout) {
	if !p.enabled || p.bad != "" {
		return
	}
	if want := "s3://" + l.bucket + "/" + l.root + "${account}/CloudTrail/${region}/${timestamp}"; p.location != want {
		p.bad = "its storage.location.template is " + strconv.Quote(p.location) + ", not the folder read (" + want + ")"
	}
}

// answers reports whether Athena can name the files of account in region
// delivered on day, when the query runs at now.
func (p athenaProjection) answers(account, region string, day, now time.Time) bool {
	if !p.enabled {
		return true
	}
	if p.bad != "" || p.accounts != nil && !slices.Contains(p.accounts, account) || p.regions != nil && !slices.Contains(p.regions, region) {
		return false
	}
	if p.daysFrom == "" {
		return true
	}
	from, ok1 := projectedDay(p.daysFrom, now)
	to, ok2 := projectedDay(p.daysTo, now)
	d := day.UTC().Truncate(24 * time.Hour)
	return ok1 && ok2 && !d.Before(from) && !d.After(to)
}

// projectedNow is a date projection's relative bound: NOW, or NOW plus or
// minus a number of units.
var projectedNow = regexp.MustCompile(`^(?i)NOW(?:([+-])(\d{1,6})(YEAR|MONTH|WEEK|DAY|HOUR|MINUTE|SECOND)S?)?$`)

// projectedDay reads one bound of a date projection's range as a day.
func projectedDay(s string, now time.Time) (time.Time, bool) {
	if t, err := time.Parse("2006/01/02", s); err == nil {
		return t, true
	}
	m := projectedNow.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, false
	}
	t := now.UTC()
	if m[1] != "" {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "-" {
			n = -n
		}
		switch strings.ToUpper(m[3]) {
		case "YEAR":
			t = t.AddDate(n, 0, 0)
		case "MONTH":
			t = t.AddDate(0, n, 0)
		case "WEEK":
			t = t.AddDate(0, 0, 7*n)
		case "DAY":
			t = t.AddDate(0, 0, n)
		case "HOUR":
			t = t.Add(time.Duration(n) * time.Hour)
		case "MINUTE":
			t = t.Add(time.Duration(n) * time.Minute)
		case "SECOND":
			t = t.Add(time.Duration(n) * time.Second)
		}
	}
	return t.Truncate(24 * time.Hour), true
}
