package trail

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// trailGen writes realistic CloudTrail log objects: management and data
// events of 1–2 KB, some far larger, callers' keys drawn from a pool, STS
// calls issuing new keys, and tracked keys mentioned where they must not
// match (request parameters, policy documents, error messages).
type trailGen struct {
	rng        *rand.Rand
	keys       []string // tracked and untracked, the first nTracked tracked
	tracked    []string
	indent     bool // pretty-print instead of CloudTrail's compact form
	sorted     bool // members in sorted order instead of eventVersion first
	bigRate    float64
	account    string
	background []string               // keys of busy callers
	callers    map[string]trailCaller // by key
	// poolEvery: one caller in poolEvery uses a key from keys, and one STS
	// call in poolEvery issues one (default 4).
	poolEvery int
}

func newTrailGen(tb testing.TB, seed uint64, nTracked, nOther int) *trailGen {
	tb.Helper()
	g := &trailGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	for i := range nTracked + nOther {
		prefix := "AKIA"
		if i%3 == 1 {
			prefix = "ASIA"
		}
		g.keys = append(g.keys, prefix+g.base32(16))
	}
	for _, k := range g.keys[:nTracked] {
		g.tracked = append(g.tracked, k)
	}
	return g
}

func (g *trailGen) scanner() *Scanner { return NewScanner(g.tracked, ScanOptions{}) }

func (g *trailGen) base32(n int) string { return g.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n) }

func (g *trailGen) hex(n int) string { return g.chars("0123456789abcdef", n) }

// chars returns n characters drawn from alphabet.
func (g *trailGen) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.rng.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *trailGen) uuid() string {
	return g.hex(8) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(4) + "-" + g.hex(12)
}

func (g *trailGen) pick(s ...string) string { return s[g.rng.IntN(len(s))] }

// key returns a caller's key: keys from the pool are a minority, the
// rest come from a few dozen busy callers, as in a real log.
func (g *trailGen) key() string {
	if g.rng.IntN(cmp.Or(g.poolEvery, 4)) == 0 {
		return g.keys[g.rng.IntN(len(g.keys))]
	}
	if len(g.background) == 0 {
		for range 24 {
			g.background = append(g.background, g.pick("AKIA", "ASIA")+g.base32(16))
		}
	}
	return g.background[g.rng.IntN(len(g.background))]
}

// identity returns the userIdentity of a key's caller, the same each time.
func (g *trailGen) identity(key string, t time.Time) map[string]any {
	if g.callers == nil {
		g.account = fmt.Sprintf("%012d", g.rng.Int64N(1e12))
		g.callers = map[string]trailCaller{}
	}
	c, ok := g.callers[key]
	if !ok {
		c = trailCaller{
			principal: g.base32(17), instance: "i-" + g.hex(17),
			ip: fmt.Sprintf("%d.%d.%d.%d", 1+g.rng.IntN(223), g.rng.IntN(256), g.rng.IntN(256), g.rng.IntN(256)),
			userAgent: g.pick("aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
				"Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
				"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.155.1", "[S3Console/0.4]"),
		}
		g.callers[key] = c
	}
	account := g.account
	if !strings.HasPrefix(key, "ASIA") {
		return map[string]any{
			"type": "IAMUser", "principalId": "AIDA" + c.principal, "arn": "arn:aws:iam::" + account + ":user/ci-deploy-user",
			"accountId": account, "accessKeyId": key, "userName": "ci-deploy-user",
		}
	}
	return map[string]any{
		"type": "AssumedRole", "principalId": "AROA" + c.principal + ":" + c.instance,
		"arn": "arn:aws:sts::" + account + ":assumed-role/eks-node-role/" + c.instance, "accountId": account, "accessKeyId": key,
		"sessionContext": map[string]any{
			"sessionIssuer":       map[string]any{"type": "Role", "principalId": "AROA" + c.principal, "arn": "arn:aws:iam::" + account + ":role/eks-node-role", "accountId": account, "userName": "eks-node-role"},
			"webIdFederationData": map[string]any{},
			"attributes":          map[string]any{"creationDate": t.Add(-time.Hour).Truncate(time.Hour).Format(time.RFC3339), "mfaAuthenticated": "false"},
		},
	}
}

// trailCaller is what stays the same across one caller's events.
type trailCaller struct {
	principal, instance, ip, userAgent string
}

// record returns one CloudTrail event.
func (g *trailGen) record(t time.Time) map[string]any {
	key := g.key()
	ident := g.identity(key, t)
	account, c := g.account, g.callers[key]
	region := g.pick("us-east-1", "us-east-1", "us-east-1", "eu-west-1")
	rec := map[string]any{
		"eventVersion": "1.09", "userIdentity": ident, "eventTime": t.Format(time.RFC3339),
		"awsRegion": region, "sourceIPAddress": c.ip, "userAgent": c.userAgent,
		"requestID": g.uuid(), "eventID": g.uuid(), "readOnly": true, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
		"tlsDetails": map[string]any{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2." + region + ".amazonaws.com"},
	}
	switch g.rng.IntN(9) {
	case 0:
		issued := "ASIA" + g.base32(16)
		if g.rng.IntN(cmp.Or(g.poolEvery, 4)) == 0 {
			issued = g.keys[g.rng.IntN(len(g.keys))]
		}
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "sts.amazonaws.com", "AssumeRole", false
		rec["requestParameters"] = map[string]any{"roleArn": "arn:aws:iam::" + account + ":role/eks-node-role", "roleSessionName": "session-" + g.hex(8), "durationSeconds": 3600}
		rec["responseElements"] = map[string]any{
			"credentials":     map[string]any{"accessKeyId": issued, "sessionToken": "IQoJb3JpZ2luX2VjE" + g.base32(40) + "<truncated>", "expiration": t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")},
			"assumedRoleUser": map[string]any{"assumedRoleId": "AROA" + g.base32(17) + ":session", "arn": "arn:aws:sts::" + account + ":assumed-role/eks-node-role/session"},
		}
		rec["resources"] = []any{map[string]any{"accountId": account, "type": "AWS::IAM::Role", "ARN": "arn:aws:iam::" + account + ":role/eks-node-role"}}
	case 1:
		bucket := g.pick("backups-bucket", "config-bucket", "app-assets")
		rec["eventSource"], rec["eventName"], rec["eventCategory"], rec["managementEvent"] = "s3.amazonaws.com", "GetObject", "Data", false
		rec["requestParameters"] = map[string]any{"bucketName": bucket, "Host": bucket + ".s3.amazonaws.com", "key": "terraform/" + g.hex(6) + "/terraform.tfstate"}
		rec["additionalEventData"] = map[string]any{"SignatureVersion": "SigV4", "bytesTransferredOut": g.rng.IntN(1 << 20), "x-amz-id-2": g.base32(60)}
		rec["resources"] = []any{
			map[string]any{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::" + bucket + "/terraform.tfstate"},
			map[string]any{"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::" + bucket},
		}
	case 2: // a tracked key named as a parameter: must not match
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "iam.amazonaws.com", "UpdateAccessKey", false
		rec["requestParameters"] = map[string]any{"accessKeyId": g.key(), "status": "Inactive", "userName": "ci-deploy-user"}
	case 3: // a tracked key inside a policy document string: must not match
		policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:accessKeyId":"%s"}}}]}`, g.key())
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "iam.amazonaws.com", "PutUserPolicy", false
		rec["requestParameters"] = map[string]any{"userName": "ci-deploy-user", "policyName": "deny-" + g.hex(4), "policyDocument": policy}
	case 4:
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "ec2.amazonaws.com", "RunInstances", false
		userData := 200
		if g.rng.Float64() < g.bigRate {
			userData = 100<<10 + g.rng.IntN(100<<10) // larger than a read
		}
		rec["requestParameters"] = map[string]any{
			"instancesSet": map[string]any{"items": []any{map[string]any{"imageId": "ami-" + g.hex(17), "minCount": 1, "maxCount": 20}}},
			"instanceType": "p3.16xlarge", "userData": g.base32(userData), "blockDeviceMapping": map[string]any{},
		}
		rec["responseElements"] = map[string]any{"requestId": g.uuid(), "reservationId": "r-" + g.hex(17), "ownerId": account}
	case 5:
		rec["eventSource"], rec["eventName"] = "sts.amazonaws.com", "GetCallerIdentity"
		rec["responseElements"] = nil
	case 6:
		rec["eventSource"], rec["eventName"] = "ec2.amazonaws.com", "DescribeInstances"
		rec["errorCode"] = "Client.UnauthorizedOperation"
		rec["errorMessage"] = "You are not authorized to perform this operation. User: arn:aws:iam::" + account + ":user/ci-deploy-user with key " + g.key() + " is not authorized"
		rec["requestParameters"] = map[string]any{"instancesSet": map[string]any{}, "filterSet": map[string]any{}}
	case 7:
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "iam.amazonaws.com", "CreateUser", false
		rec["requestParameters"] = map[string]any{"userName": "backup-svc-" + g.hex(4), "tags": []any{map[string]any{"key": "note", "value": `quote " and backslash \ and brace } ]`}}}
		rec["responseElements"] = map[string]any{"user": map[string]any{"path": "/", "userName": "backup-svc", "userId": "AIDA" + g.base32(17), "arn": "arn:aws:iam::" + account + ":user/backup-svc", "createDate": t.Format("Jan 2, 2006, 3:04:05 PM")}}
	default:
		rec["eventSource"], rec["eventName"] = "s3.amazonaws.com", "ListBuckets"
		rec["requestParameters"] = map[string]any{"Host": "s3.amazonaws.com"}
		rec["responseElements"] = nil
	}
	return rec
}

// object returns the uncompressed JSON of a log object of n records.
func (g *trailGen) object(tb testing.TB, n int) []byte {
	tb.Helper()
	t := time.Date(2026, 11, 21, 10, 45, 0, 0, time.UTC)
	recs := make([]any, n)
	for i := range recs {
		recs[i] = g.record(t.Add(time.Duration(i) * time.Second))
	}
	doc := []byte(`{"Records":[`)
	for i, rec := range recs {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, g.marshal(tb, rec.(map[string]any))...)
	}
	doc = append(doc, "]}"...)
	if g.indent {
		var out bytes.Buffer
		if err := json.Indent(&out, doc, "", "  "); err != nil {
			tb.Fatalf("indent log object: %v", err)
		}
		doc = out.Bytes()
	}
	return doc
}

// marshal writes a record as CloudTrail does, eventVersion first, or with
// its members sorted when g.sorted is set.
func (g *trailGen) marshal(tb testing.TB, rec map[string]any) []byte {
	tb.Helper()
	version := rec["eventVersion"]
	if !g.sorted {
		delete(rec, "eventVersion")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		tb.Fatalf("marshal record: %v", err)
	}
	if g.sorted {
		return b
	}
	return append([]byte(fmt.Sprintf(`{"eventVersion":%q,`, version)), b[1:]...)
}

func gzipBytes(tb testing.TB, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatalf("gzip: %v", err)
	}
	return buf.Bytes()
}

// oneRecord returns a log object whose records carry the given callers'
// keys, each record a minimal CloudTrail event.
func oneRecord(keys ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","accessKeyId":"%s"},"eventTime":"2026-11-21T10:45:0%dZ","eventName":"ListBuckets","eventID":"e%d"}`, k, i%10, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}
