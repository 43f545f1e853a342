package deploy

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/keyleak/keyleak/awsops"
	"github.com/keyleak/keyleak/test/world"
)

// athenaStatements are the statements of athena.yaml's policy for
// keyleak's role, as plain data.
func athenaStatements(t *testing.T, res map[string]map[string]any) []map[string]any {
	t.Helper()
	doc, _ := props(res["QueryPolicy"])["PolicyDocument"].(map[string]any)
	list, _ := doc["Statement"].([]any)
	if len(list) == 0 {
		t.Fatal("athena.yaml: QueryPolicy has no statements")
	}
	var out []map[string]any
	for _, s := range list {
		out = append(out, s.(map[string]any))
	}
	return out
}

// athenaActions lists what athena.yaml allows keyleak's role.
func athenaActions(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, s := range athenaStatements(t, cfnResources(t, "deploy/aws/athena.yaml")) {
		if s["Effect"] == "Allow" {
			out = append(out, asStrings(s["Action"])...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func asStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// ddlColumns reads the top-level columns and the partitions of
// deploy/aws/athena-table.sql as name → Glue type (lower case, no spaces),
// the form a Glue table's columns take.
func ddlColumns(t *testing.T) (columns, partitions map[string]string) {
	t.Helper()
	columns, partitions = map[string]string{}, map[string]string{}
	into := columns
	var name string
	var typ strings.Builder
	flush := func() {
		if name != "" {
			into[name] = strings.TrimSuffix(strings.ToLower(strings.Join(strings.Fields(typ.String()), "")), ",")
		}
		name = ""
		typ.Reset()
	}
	column := regexp.MustCompile("^    `?([a-z_]+)`? (.*)$") // four spaces: a column; more: its type goes on
	for _, line := range strings.Split(string(readRepoFile(t, "deploy/aws/athena-table.sql")), "\n") {
		switch {
		case strings.HasPrefix(line, "--"):
		case strings.HasPrefix(line, "PARTITIONED BY"):
			flush()
			into = partitions
		case strings.HasPrefix(line, ")"):
			flush()
		case column.MatchString(line):
			flush()
			m := column.FindStringSubmatch(line)
			name = m[1]
			typ.WriteString(m[2])
		case strings.HasPrefix(line, "     ") && name != "":
			typ.WriteString(line)
		}
	}
	if len(columns) < 20 || len(partitions) != 3 {
		t.Fatalf("athena-table.sql: read %d columns and %d partitions; the parse is broken", len(columns), len(partitions))
	}
	return columns, partitions
}

func glueColumns(v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, c := range list {
		m := c.(map[string]any)
		out[fmt.Sprint(m["Name"])] = strings.ToLower(fmt.Sprint(m["Type"]))
	}
	return out
}

// TestAthenaTemplate: the table is the one the shipped DDL defines (whose
// columns keyleak's golden SQL is checked against in awsops), projected
// over an organisation trail's layout; the workgroup enforces its cutoff
// and result location; the names are keyleak's defaults; and the role may
// make exactly the Athena calls keyleak makes, and read only what it must.
func TestAthenaTemplate(t *testing.T) {
	res := cfnResources(t, "deploy/aws/athena.yaml")

	wg := props(res["WorkGroup"])
	conf, _ := wg["WorkGroupConfiguration"].(map[string]any)
	result, _ := conf["ResultConfiguration"].(map[string]any)
	if wg["Name"] != awsops.DefaultAthenaWorkgroup || conf["EnforceWorkGroupConfiguration"] != true ||
		conf["BytesScannedCutoffPerQuery"] != "BytesScannedCutoffPerQuery" || !strings.HasPrefix(fmt.Sprint(result["OutputLocation"]), "s3://${ResultsBucket}/") {
		t.Errorf("workgroup = %v, want %s enforcing the cutoff parameter and a result location in the results bucket", wg, awsops.DefaultAthenaWorkgroup)
	}
	var tpl struct {
		Parameters map[string]map[string]any `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/aws/athena.yaml"), &tpl); err != nil {
		t.Fatal(err)
	}
	if p := tpl.Parameters["BytesScannedCutoffPerQuery"]; p["MinValue"] != 10000000 || p["Type"] != "Number" {
		t.Errorf("BytesScannedCutoffPerQuery parameter = %v, want a Number of at least AWS's minimum, 10000000", p)
	}

	db := props(res["Database"])["DatabaseInput"].(map[string]any)
	table := props(res["Table"])
	input := table["TableInput"].(map[string]any)
	if db["Name"] != awsops.DefaultAthenaDatabase || input["Name"] != awsops.DefaultAthenaTable || table["DatabaseName"] != "Database" {
		t.Errorf("database %v, table %v: want keyleak's defaults %s.%s", db["Name"], input["Name"], awsops.DefaultAthenaDatabase, awsops.DefaultAthenaTable)
	}
	params := input["Parameters"].(map[string]any)
	wantParams := map[string]string{
		"projection.enabled": "true", "projection.account.type": "enum", "projection.account.values": "Accounts",
		"projection.region.type": "enum", "projection.region.values": "Regions", "projection.timestamp.type": "date",
		"projection.timestamp.format": "yyyy/MM/dd", "projection.timestamp.interval": "1", "projection.timestamp.interval.unit": "DAYS",
		"storage.location.template": "s3://${TrailBucket}/${TrailPrefix}AWSLogs/${OrganizationID}/${!account}/CloudTrail/${!region}/${!timestamp}",
	}
	for k, want := range wantParams {
		if got := fmt.Sprint(params[k]); got != want {
			t.Errorf("table parameter %s = %q, want %q", k, got, want)
		}
	}
	sd := input["StorageDescriptor"].(map[string]any)
	serde := sd["SerdeInfo"].(map[string]any)
	if sd["InputFormat"] != "com.amazon.emr.cloudtrail.CloudTrailInputFormat" || serde["SerializationLibrary"] != "org.apache.hive.hcatalog.data.JsonSerDe" ||
		sd["Location"] != "s3://${TrailBucket}/${TrailPrefix}AWSLogs/${OrganizationID}/" {
		t.Errorf("storage = %v, want CloudTrailInputFormat with JsonSerDe at the organisation's folder", sd)
	}

	columns, partitions := ddlColumns(t)
	if got := glueColumns(sd["Columns"]); !maps.Equal(got, columns) {
		for _, k := range slices.Sorted(maps.Keys(columns)) {
			if got[k] != columns[k] {
				t.Errorf("column %s: template %q, athena-table.sql %q", k, got[k], columns[k])
			}
		}
		for k := range got {
			if _, ok := columns[k]; !ok {
				t.Errorf("column %s is in the template, not in athena-table.sql", k)
			}
		}
	}
	if got := glueColumns(input["PartitionKeys"]); !maps.Equal(got, partitions) {
		t.Errorf("partition keys = %v, athena-table.sql has %v", got, partitions)
	}

	// The role may make exactly the Athena calls keyleak's code makes.
	var called []string
	for a := range sdkCalls(t) {
		if strings.HasPrefix(a, "athena:") {
			called = append(called, a)
		}
	}
	slices.Sort(called)
	var granted []string
	for _, a := range athenaActions(t) {
		if strings.HasPrefix(a, "athena:") {
			granted = append(granted, a)
		}
	}
	if len(called) < 4 || !slices.Equal(granted, called) {
		t.Errorf("athena.yaml allows %q; keyleak calls %q", granted, called)
	}
	for _, s := range athenaStatements(t, res) {
		actions, resource := asStrings(s["Action"]), fmt.Sprint(s["Resource"])
		for _, a := range actions {
			if strings.ContainsAny(a, "*?") {
				t.Errorf("%s: wildcard action %s", s["Sid"], a)
			}
		}
		switch {
		case strings.HasPrefix(actions[0], "athena:") && !strings.HasSuffix(resource, ":workgroup/${WorkGroup}"):
			t.Errorf("%s: Athena on %s, want the workgroup only", s["Sid"], resource)
		case slices.Contains(actions, "s3:PutObject") && resource != "${ResultsBucket.Arn}/athena/*":
			t.Errorf("%s: writes %s, want the results prefix only", s["Sid"], resource)
		case strings.Contains(resource, "*") && !strings.HasSuffix(resource, "/*"):
			t.Errorf("%s: resource %s", s["Sid"], resource)
		}
	}
}

// TestAthenaProjectsEveryRegion: the table projects every region of the
// commercial partition, in the template's default and in the DDL alike. A
// region the projection lacks returns no rows and no error: an attacker
// who enables a new region would be invisible to the Athena path.
func TestAthenaProjectsEveryRegion(t *testing.T) {
	var tpl struct {
		Parameters map[string]map[string]any `yaml:"Parameters"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/aws/athena.yaml"), &tpl); err != nil {
		t.Fatal(err)
	}
	ddl := regexp.MustCompile(`'projection\.region\.values'\s*=\s*'([^']*)'`).FindSubmatch(readRepoFile(t, "deploy/aws/athena-table.sql"))
	if ddl == nil {
		t.Fatal("athena-table.sql has no projection.region.values")
	}
	for where, list := range map[string]string{"athena.yaml's Regions default": fmt.Sprint(tpl.Parameters["Regions"]["Default"]), "athena-table.sql": string(ddl[1])} {
		projected := strings.Split(list, ",")
		for _, r := range world.CommercialRegions() {
			if !slices.Contains(projected, r) {
				t.Errorf("%s does not project region %s", where, r)
			}
		}
	}
}
