// Package trailtest writes realistic CloudTrail log objects for the tests
// and benchmarks of the trail scanner and of the trail-first pass.
package trailtest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// Gen writes realistic CloudTrail log objects: management and data events
// of 1–2 KB, some far larger, callers' keys drawn from a pool, STS calls
// issuing new keys, and tracked keys mentioned where they must not match
// (request parameters, policy documents, error messages).
type Gen struct {
	Rand    *rand.Rand
	Keys    []string // tracked and untracked, the first len(Tracked) tracked
	Tracked []string
	Indent  bool // pretty-print instead of CloudTrail's compact form
	Sorted  bool // members in sorted order instead of eventVersion first
	// BigRate is the share of RunInstances calls that launch 60–140
	// instances: records of 80–190 KB, larger than a read.
	BigRate float64
	// PoolEvery: one caller in PoolEvery uses a key from Keys, and one STS
	// call in PoolEvery issues one (default 4).
	PoolEvery int
	// Chain makes the tracked keys a credential tree: Tracked[0] is the
	// leaked key, and each later one is first issued by an AssumeRole call
	// of a tracked key already issued, and used only after that.
	Chain bool
	// Start is the time of the first record of the first object (default
	// 2026-11-21T10:45:00Z); each object follows the one before, and
	// records are Every apart (default a second).
	Start time.Time
	Every time.Duration
	// Uses counts the records each tracked key made as the caller.
	Uses map[string]int
	// Minted is every key an AssumeRole call of a tracked key issued, and
	// Created every user a tracked key created: with Tracked[0], the tree
	// of the leaked key.
	Minted, Created []string

	Account    string
	background []string          // keys of busy callers
	callers    map[string]caller // by key
	issued     int               // with Chain: how many tracked keys are in use
	next       time.Time         // the time of the next record
	users      map[string]bool   // the names of the users created so far
}

// NewGen returns a generator of nTracked tracked keys and nOther other keys
// in the pool, from the seed.
func NewGen(tb testing.TB, seed uint64, nTracked, nOther int) *Gen {
	tb.Helper()
	g := &Gen{Rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), issued: 1}
	for i := range nTracked + nOther {
		prefix := "AKIA"
		if i%3 == 1 {
			prefix = "ASIA"
		}
		g.Keys = append(g.Keys, prefix+g.Base32(16))
	}
	g.Tracked = append(g.Tracked, g.Keys[:nTracked]...)
	g.Account = fmt.Sprintf("%012d", g.Rand.Int64N(1e12))
	return g
}

// newUserName returns the name of a user to create: one not created
// before, as IAM keeps a name to one user of the account.
func (g *Gen) newUserName() string {
	if g.users == nil {
		g.users = map[string]bool{}
	}
	for {
		if name := "backup-svc-" + g.Hex(8); !g.users[name] {
			g.users[name] = true
			return name
		}
	}
}

// Base32 returns n random characters of the base32 alphabet.
func (g *Gen) Base32(n int) string { return g.chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n) }

// Hex returns n random hex digits.
func (g *Gen) Hex(n int) string { return g.chars("0123456789abcdef", n) }

// chars returns n characters drawn from alphabet.
func (g *Gen) chars(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.Rand.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *Gen) uuid() string {
	return g.Hex(8) + "-" + g.Hex(4) + "-" + g.Hex(4) + "-" + g.Hex(4) + "-" + g.Hex(12)
}

func (g *Gen) pick(s ...string) string { return s[g.Rand.IntN(len(s))] }

// pool returns a key from the pool; with Chain, only tracked keys issued
// already.
func (g *Gen) pool() string {
	if g.Chain {
		if i := g.Rand.IntN(len(g.Keys)); i >= len(g.Tracked) || i < g.issued {
			return g.Keys[i]
		}
		return g.Keys[g.Rand.IntN(g.issued)]
	}
	return g.Keys[g.Rand.IntN(len(g.Keys))]
}

// key returns a caller's key: keys from the pool are a minority, the
// rest come from a few dozen busy callers, as in a real log.
func (g *Gen) key() string {
	if g.Rand.IntN(cmp.Or(g.PoolEvery, 4)) == 0 {
		return g.pool()
	}
	if len(g.background) == 0 {
		for range 24 {
			g.background = append(g.background, g.pick("AKIA", "ASIA")+g.Base32(16))
		}
	}
	return g.background[g.Rand.IntN(len(g.background))]
}

// tracked reports whether key is one of the tracked keys.
func (g *Gen) tracked(key string) bool {
	for _, k := range g.Tracked {
		if k == key {
			return true
		}
	}
	return false
}

// identity returns the userIdentity of a key's caller, the same each time.
func (g *Gen) identity(key string, t time.Time) map[string]any {
	if g.callers == nil {
		g.callers = map[string]caller{}
	}
	c, ok := g.callers[key]
	if !ok {
		c = caller{
			principal: g.Base32(17), instance: "i-" + g.Hex(17),
			ip: fmt.Sprintf("%d.%d.%d.%d", 1+g.Rand.IntN(223), g.Rand.IntN(256), g.Rand.IntN(256), g.Rand.IntN(256)),
			userAgent: g.pick("aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/s3.cp",
				"Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.1.0 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69",
				"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.155.1", "[S3Console/0.4]"),
		}
		g.callers[key] = c
	}
	account := g.Account
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

// caller is what stays the same across one caller's events.
type caller struct {
	principal, instance, ip, userAgent string
}

// issuedKey returns the key an AssumeRole call of key issues.
func (g *Gen) issuedKey(key string) string {
	if g.Chain && g.issued < len(g.Tracked) && g.tracked(key) {
		g.issued++
		return g.Tracked[g.issued-1]
	}
	if !g.Chain && g.Rand.IntN(cmp.Or(g.PoolEvery, 4)) == 0 {
		return g.Keys[g.Rand.IntN(len(g.Keys))]
	}
	return "ASIA" + g.Base32(16)
}

// Record returns one CloudTrail event.
func (g *Gen) Record(t time.Time) map[string]any {
	key := g.key()
	if g.tracked(key) {
		if g.Uses == nil {
			g.Uses = map[string]int{}
		}
		g.Uses[key]++
	}
	ident := g.identity(key, t)
	account, c := g.Account, g.callers[key]
	region := g.pick("us-east-1", "us-east-1", "us-east-1", "eu-west-1")
	rec := map[string]any{
		"eventVersion": "1.09", "userIdentity": ident, "eventTime": t.Format(time.RFC3339),
		"awsRegion": region, "sourceIPAddress": c.ip, "userAgent": c.userAgent,
		"requestID": g.uuid(), "eventID": g.uuid(), "readOnly": true, "eventType": "AwsApiCall",
		"managementEvent": true, "recipientAccountId": account, "eventCategory": "Management",
		"tlsDetails": map[string]any{"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2." + region + ".amazonaws.com"},
	}
	switch g.Rand.IntN(9) {
	case 0:
		issued := g.issuedKey(key)
		if g.tracked(key) {
			g.Minted = append(g.Minted, issued)
		}
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "sts.amazonaws.com", "AssumeRole", false
		rec["requestParameters"] = map[string]any{"roleArn": "arn:aws:iam::" + account + ":role/eks-node-role", "roleSessionName": "session-" + g.Hex(8), "durationSeconds": 3600}
		rec["responseElements"] = map[string]any{
			"credentials":     map[string]any{"accessKeyId": issued, "sessionToken": "IQoJb3JpZ2luX2VjE" + g.Base32(40) + "<truncated>", "expiration": t.Add(time.Hour).Format("Jan 2, 2006, 3:04:05 PM")},
			"assumedRoleUser": map[string]any{"assumedRoleId": "AROA" + g.Base32(17) + ":session", "arn": "arn:aws:sts::" + account + ":assumed-role/eks-node-role/session"},
		}
		rec["resources"] = []any{map[string]any{"accountId": account, "type": "AWS::IAM::Role", "ARN": "arn:aws:iam::" + account + ":role/eks-node-role"}}
	case 1:
		bucket := g.pick("backups-bucket", "config-bucket", "app-assets")
		rec["eventSource"], rec["eventName"], rec["eventCategory"], rec["managementEvent"] = "s3.amazonaws.com", "GetObject", "Data", false
		rec["requestParameters"] = map[string]any{"bucketName": bucket, "Host": bucket + ".s3.amazonaws.com", "key": "terraform/" + g.Hex(6) + "/terraform.tfstate"}
		rec["additionalEventData"] = map[string]any{"SignatureVersion": "SigV4", "bytesTransferredOut": g.Rand.IntN(1 << 20), "x-amz-id-2": g.Base32(60)}
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
		rec["requestParameters"] = map[string]any{"userName": "ci-deploy-user", "policyName": "deny-" + g.Hex(4), "policyDocument": policy}
	case 4:
		rec["eventSource"], rec["eventName"], rec["readOnly"] = "ec2.amazonaws.com", "RunInstances", false
		count := 1
		if g.Rand.Float64() < g.BigRate {
			count = 60 + g.Rand.IntN(80) // 80–190 KB: larger than a read
		}
		// CloudTrail writes userData as <sensitiveDataRemoved>.
		rec["requestParameters"] = map[string]any{
			"instancesSet": map[string]any{"items": []any{map[string]any{"imageId": "ami-" + g.Hex(17), "minCount": count, "maxCount": count}}},
			"instanceType": "p3.16xlarge", "userData": "<sensitiveDataRemoved>", "blockDeviceMapping": map[string]any{},
		}
		rec["responseElements"] = map[string]any{"requestId": g.uuid(), "reservationId": "r-" + g.Hex(17), "ownerId": account,
			"instancesSet": map[string]any{"items": g.instances(count, region)}}
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
		user := g.newUserName()
		if g.tracked(key) {
			g.Created = append(g.Created, user)
		}
		rec["requestParameters"] = map[string]any{"userName": user, "tags": []any{map[string]any{"key": "note", "value": `quote " and backslash \ and brace } ]`}}}
		rec["responseElements"] = map[string]any{"user": map[string]any{"path": "/", "userName": "backup-svc", "userId": "AIDA" + g.Base32(17), "arn": "arn:aws:iam::" + account + ":user/backup-svc", "createDate": t.Format("Jan 2, 2006, 3:04:05 PM")}}
	default:
		rec["eventSource"], rec["eventName"] = "s3.amazonaws.com", "ListBuckets"
		rec["requestParameters"] = map[string]any{"Host": "s3.amazonaws.com"}
		rec["responseElements"] = nil
	}
	return rec
}

// instances returns the instancesSet items of a RunInstances response, as
// CloudTrail writes them (about 1 KB each).
func (g *Gen) instances(n int, region string) []any {
	items := make([]any, n)
	for i := range items {
		ip := fmt.Sprintf("10.%d.%d.%d", g.Rand.IntN(256), g.Rand.IntN(256), 1+g.Rand.IntN(254))
		dns := "ip-" + strings.ReplaceAll(ip, ".", "-") + "." + region + ".compute.internal"
		eni, subnet, vpc, sg := "eni-"+g.Hex(17), "subnet-"+g.Hex(17), "vpc-"+g.Hex(17), "sg-"+g.Hex(17)
		items[i] = map[string]any{
			"instanceId": "i-" + g.Hex(17), "imageId": "ami-" + g.Hex(17), "instanceState": map[string]any{"code": 0, "name": "pending"},
			"privateDnsName": dns, "amiLaunchIndex": i, "productCodes": map[string]any{}, "instanceType": "p3.16xlarge",
			"launchTime": 1763722000000 + i, "placement": map[string]any{"availabilityZone": region + "a", "tenancy": "default"},
			"monitoring": map[string]any{"state": "disabled"}, "subnetId": subnet, "vpcId": vpc, "privateIpAddress": ip,
			"stateReason": map[string]any{"code": "pending", "message": "pending"}, "architecture": "x86_64", "rootDeviceType": "ebs",
			"rootDeviceName": "/dev/xvda", "blockDeviceMapping": map[string]any{}, "virtualizationType": "hvm", "hypervisor": "xen",
			"groupSet": map[string]any{"items": []any{map[string]any{"groupId": sg, "groupName": "default"}}},
			"networkInterfaceSet": map[string]any{"items": []any{map[string]any{
				"networkInterfaceId": eni, "subnetId": subnet, "vpcId": vpc, "ownerId": g.Account, "status": "in-use",
				"macAddress":       "0e:" + g.Hex(2) + ":" + g.Hex(2) + ":" + g.Hex(2) + ":" + g.Hex(2) + ":" + g.Hex(2),
				"privateIpAddress": ip, "privateDnsName": dns, "sourceDestCheck": true, "interfaceType": "interface",
				"groupSet":   map[string]any{"items": []any{map[string]any{"groupId": sg, "groupName": "default"}}},
				"attachment": map[string]any{"attachmentId": "eni-attach-" + g.Hex(17), "deviceIndex": 0, "networkCardIndex": 0, "status": "attaching", "attachTime": 1763722000000, "deleteOnTermination": true},
			}}},
			"ebsOptimized": false, "enaSupport": true, "cpuOptions": map[string]any{"coreCount": 32, "threadsPerCore": 2},
			"capacityReservationSpecification": map[string]any{"capacityReservationPreference": "open"},
			"metadataOptions":                  map[string]any{"state": "pending", "httpTokens": "required", "httpPutResponseHopLimit": 2, "httpEndpoint": "enabled"},
		}
	}
	return items
}

// Object returns the uncompressed JSON of a log object of n records,
// following the records of the objects before it.
func (g *Gen) Object(tb testing.TB, n int) []byte {
	tb.Helper()
	if g.next.IsZero() {
		g.next = cmp.Or(g.Start, time.Date(2026, 11, 21, 10, 45, 0, 0, time.UTC))
	}
	doc := []byte(`{"Records":[`)
	for i := range n {
		if i > 0 {
			doc = append(doc, ',')
		}
		doc = append(doc, g.Marshal(tb, g.Record(g.next))...)
		g.next = g.next.Add(cmp.Or(g.Every, time.Second))
	}
	doc = append(doc, "]}"...)
	if g.Indent {
		var out bytes.Buffer
		if err := json.Indent(&out, doc, "", "  "); err != nil {
			tb.Fatalf("indent log object: %v", err)
		}
		doc = out.Bytes()
	}
	return doc
}

// Marshal writes a record as CloudTrail does, eventVersion first, or with
// its members sorted when g.Sorted is set.
func (g *Gen) Marshal(tb testing.TB, rec map[string]any) []byte {
	tb.Helper()
	version := rec["eventVersion"]
	if !g.Sorted {
		delete(rec, "eventVersion")
	}
	b, err := json.Marshal(rec)
	if err != nil {
		tb.Fatalf("marshal record: %v", err)
	}
	if g.Sorted {
		return b
	}
	return append([]byte(fmt.Sprintf(`{"eventVersion":%q,`, version)), b[1:]...)
}

// Gzip compresses data as CloudTrail's log files are.
func Gzip(tb testing.TB, data []byte) []byte {
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

// OneRecord returns a log object whose records carry the given callers'
// keys, each record a minimal CloudTrail event.
func OneRecord(keys ...string) []byte {
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

// WatchHeap samples the live heap every few milliseconds until the returned
// function is called, which returns the peak.
func WatchHeap() (stop func() uint64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// LogKey is the name CloudTrail gives an account's log file of region
// delivered at stamp, under AWSLogs/, with a file's random suffix.
func LogKey(account, region string, stamp time.Time, suffix string) string {
	return fmt.Sprintf("AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%sZ_%s.json.gz",
		account, region, stamp.UTC().Format("2006/01/02"), account, region, stamp.UTC().Format("20060102T1504"), suffix)
}
