package awsops

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
)

// athenaProjection is what the Athena table's partition projection
// answers for. Athena reads only the partitions the projection makes: with
// an enum of accounts (or of regions), an account not listed (an account
// that joined the organisation after the table was made, say) is answered
// with nothing, as if it had no event. Its files are then read directly.
type athenaProjection struct {
	accounts, regions []string // an enum's values; nil: any
	err               error    // the table's definition could not be read: taken to answer any
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
// weigh: any is answered.
func projectionOf(params map[string]string) athenaProjection {
	var p athenaProjection
	if !strings.EqualFold(strings.TrimSpace(params["projection.enabled"]), "true") {
		return p
	}
	enum := func(column string) []string {
		if !strings.EqualFold(strings.TrimSpace(params["projection."+column+".type"]), "enum") {
			return nil
		}
		return strings.Split(params["projection."+column+".values"], ",")
	}
	p.accounts, p.regions = enum("account"), enum("region")
	return p
}

// answers reports whether Athena can name the files of account in region.
func (p athenaProjection) answers(account, region string) bool {
	return (p.accounts == nil || slices.Contains(p.accounts, account)) && (p.regions == nil || slices.Contains(p.regions, region))
}
