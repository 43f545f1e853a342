package scenario

import (
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/keyleak/keyleak/test/world"
)

// GroundTruth is what an investigation of the leaked key must find, derived from the calls
// the attacker and the legitimate workload really made.
type GroundTruth struct {
	Scenario    string
	Account     string
	LeakedKeyID string
	LeakedUser  string
	FirstSeen   time.Time // the attacker's first call
	LastSeen    time.Time // the attacker's last call
	SourceIPs   []string  // the attacker's, sorted
	UserAgents  []string  // the attacker's, sorted
	Regions     []string  // CloudTrail regions of the attacker's calls, sorted

	Actions     []Action            // every call of the attacker, in order
	Credentials []DerivedCredential // every key the attacker minted, in order
	Resources   []Resource          // everything the attacker created, in order
	DataEvents  []DataEvent         // the attacker's S3 object calls, in order
	Legit       Legit
	Cost        *CostSpike // nil when the scenario has no cost data
}

// Action is one call of the attacker: one CloudTrail event.
type Action struct {
	Time        time.Time // the event time (whole seconds)
	EventName   string    // CloudTrail eventName, e.g. AssumeRole, CreateFunction20150331
	EventSource string    // e.g. sts.amazonaws.com
	Region      string    // CloudTrail awsRegion (us-east-1 for IAM)
	Account     string    // the account the call acted in
	// AccessKeyID is the key that signed the call; "" for a console
	// sign-in (ConsoleLogin), which is made with a password.
	AccessKeyID string
	// Credential is "leaked" or the derived credential's label; for a
	// sign-in, the console session it gave ("console/<user>").
	Credential string
	SourceIP   string
	UserAgent  string
	ErrorCode  string // "" when it succeeded
	Data       bool   // a data event (S3 object calls), only in trail log files
}

// DerivedCredential is a key the attacker minted from the leaked key or from another
// derived credential.
type DerivedCredential struct {
	AccessKeyID string
	Label       string
	ParentKeyID string
	Via         string // AssumeRole, GetFederationToken, GetSessionToken, CreateAccessKey, ConsoleLogin
	RoleARN     string // AssumeRole
	SessionName string // AssumeRole session or federated user name
	UserName    string // CreateAccessKey: the user the key belongs to; ConsoleLogin: who signed in
	Account     string // the account the credential acts in
	Issued      time.Time
	Expires     time.Time // zero for long-term keys
	Chain       []string  // access key IDs from the leaked key to this one, both included
}

// Hops is how many steps the credential is from the leaked key.
func (d DerivedCredential) Hops() int { return len(d.Chain) - 1 }

// Resource is something the attacker created.
type Resource struct {
	Type        string // AWS::EC2::Instance, AWS::EC2::SpotInstanceRequest, AWS::Lambda::Function, AWS::IAM::User…
	ID          string // instance ID, request ID, function name, user or role name, access key ID, policy ARN
	Parent      string // login profiles and policy attachments: the user
	Region      string // "" for IAM
	Account     string
	CreatedBy   string // access key ID
	Time        time.Time
	StillExists bool // checked when the ground truth was derived
}

// DataEvent is one S3 object call of the attacker.
type DataEvent struct {
	Time        time.Time
	EventName   string
	Region      string
	Account     string
	Bucket      string
	Key         string
	AccessKeyID string
	ErrorCode   string
	Sensitive   bool // Setup marked the object sensitive
}

// Legit is the legitimate workload, which an investigation must not flag.
type Legit struct {
	Principals    []string // ARNs of users and roles, sorted
	AccessKeyIDs  []string // long-term keys, sorted
	SessionKeyIDs []string // session keys the workload minted, sorted
	SourceIPs     []string // sorted
	UserAgents    []string // sorted
	Calls         int
	Failures      int
	// KeyActions are the calls the key's own legitimate user (its CI)
	// made with the leaked key: its baseline, never the attacker's.
	KeyActions []Action
}

// CostSpike is the Cost Explorer data seeded for the scenario: a daily baseline and the
// spike the attack caused.
type CostSpike struct {
	Metric        string             // UnblendedCost
	BaselineDays  int                // days before the spike day
	BaselineDaily float64            // USD per day before the attack
	Day           string             // the spike day, YYYY-MM-DD
	DayTotal      float64            // USD on the spike day, baseline included
	Extra         float64            // DayTotal - BaselineDaily
	ByService     map[string]float64 // the spike day's extra cost by Cost Explorer service name
	ByRegion      map[string]float64 // the spike day's extra cost by region
}

// derive builds the ground truth from the recorded calls, without checking existence.
func (r *Run) derive() GroundTruth {
	gt := GroundTruth{
		Scenario: r.Scenario.Name, Account: r.Target.Account, LeakedKeyID: r.Target.Leaked.AccessKeyID,
		LeakedUser: r.Target.LeakedUser, Cost: r.cost,
	}
	sensitive := map[string]bool{}
	for _, o := range r.Target.Objects {
		sensitive[o.Account+"/"+o.Bucket+"/"+o.Key] = o.Sensitive
	}
	chains := map[string][]string{gt.LeakedKeyID: {gt.LeakedKeyID}}
	ips, uas, regions := set{}, set{}, set{}
	derived := func(c call) {
		if d, ok := c.derived(); ok && c.ErrorCode == "" {
			d.Chain = append(append([]string(nil), chains[c.AccessKeyID]...), d.AccessKeyID)
			chains[d.AccessKeyID] = d.Chain
			gt.Credentials = append(gt.Credentials, d)
		}
	}
	for _, c := range r.attacker.all() {
		a := c.action()
		gt.Actions = append(gt.Actions, a)
		ips.add(a.SourceIP)
		uas.add(a.UserAgent)
		regions.add(a.Region)
		if gt.FirstSeen.IsZero() || a.Time.Before(gt.FirstSeen) {
			gt.FirstSeen = a.Time
		}
		if a.Time.After(gt.LastSeen) {
			gt.LastSeen = a.Time
		}
		if a.Data && c.Service == "s3" {
			bucket, key := s3Object(c.Input)
			gt.DataEvents = append(gt.DataEvents, DataEvent{Time: a.Time, EventName: a.EventName, Region: a.Region,
				Account: a.Account, Bucket: bucket, Key: key, AccessKeyID: a.AccessKeyID, ErrorCode: a.ErrorCode,
				Sensitive: sensitive[a.Account+"/"+bucket+"/"+key]})
		}
		if c.ErrorCode != "" {
			continue
		}
		derived(c)
		gt.Resources = append(gt.Resources, c.created()...)
	}
	gt.SourceIPs, gt.UserAgents, gt.Regions = ips.sorted(), uas.sorted(), regions.sorted()
	gt.Legit = r.legitTruth()
	return gt
}

func (r *Run) legitTruth() Legit {
	l := Legit{Principals: append([]string(nil), r.Target.LegitPrincipals...)}
	for _, k := range r.Target.LegitKeys {
		l.AccessKeyIDs = append(l.AccessKeyIDs, k.AccessKeyID)
	}
	sessions, ips, uas := set{}, set{}, set{}
	for _, c := range r.legit.all() {
		l.Calls++
		if c.AccessKeyID == r.Target.Leaked.AccessKeyID {
			l.KeyActions = append(l.KeyActions, c.action())
		}
		if c.ErrorCode != "" {
			l.Failures++
			continue
		}
		ips.add(c.SourceIP)
		uas.add(c.UserAgent)
		if d, ok := c.derived(); ok {
			sessions.add(d.AccessKeyID)
		}
	}
	sort.Strings(l.Principals)
	sort.Strings(l.AccessKeyIDs)
	l.SessionKeyIDs, l.SourceIPs, l.UserAgents = sessions.sorted(), ips.sorted(), uas.sorted()
	return l
}

// action is the call as a CloudTrail event.
func (c call) action() Action {
	name := c.Operation
	switch c.Service {
	case "lambda":
		name = world.LambdaEventName(name) // CloudTrail names Lambda's management events by API version
	case "s3":
		name = world.S3EventName(name) // and some S3 calls by their older names
	}
	region := c.Region
	if c.Service == "iam" {
		region = "us-east-1"
	}
	a := Action{
		Time: c.Time, EventName: name, EventSource: c.Service + ".amazonaws.com", Region: region, Account: c.Account,
		AccessKeyID: c.AccessKeyID, Credential: c.Credential, SourceIP: c.SourceIP, UserAgent: c.UserAgent,
		ErrorCode: c.ErrorCode, Data: c.Service == "s3" && (strings.HasSuffix(c.Operation, "Object") || c.Operation == "DeleteObjects") || c.Operation == "Invoke",
	}
	if c.Service == "signin" { // a password, not a key
		a.AccessKeyID, a.Credential = "", "console/"+c.Input.(string)
	}
	return a
}

func s3Object(in any) (bucket, key string) {
	switch v := in.(type) {
	case *s3.GetObjectInput:
		return deref(v.Bucket), deref(v.Key)
	case *s3.PutObjectInput:
		return deref(v.Bucket), deref(v.Key)
	case *s3.HeadObjectInput:
		return deref(v.Bucket), deref(v.Key)
	case *s3.DeleteObjectInput:
		return deref(v.Bucket), deref(v.Key)
	case *s3.DeleteObjectsInput: // CloudTrail names the bucket, not the keys
		return deref(v.Bucket), ""
	}
	return "", ""
}

// derived is the credential a successful call minted, if any.
func (c call) derived() (DerivedCredential, bool) {
	d := DerivedCredential{ParentKeyID: c.AccessKeyID, Via: c.Operation, Account: c.Account, Issued: c.Time}
	session := func(cr *ststypes.Credentials) {
		d.AccessKeyID = deref(cr.AccessKeyId)
		if cr.Expiration != nil {
			d.Expires = cr.Expiration.UTC()
		}
	}
	switch out := c.Output.(type) {
	case *sts.AssumeRoleOutput:
		in := c.Input.(*sts.AssumeRoleInput)
		session(out.Credentials)
		d.RoleARN, d.SessionName = deref(in.RoleArn), deref(in.RoleSessionName)
		if parts := strings.Split(d.RoleARN, ":"); len(parts) == 6 {
			d.Account = parts[4]
		}
		d.Label = d.RoleARN[strings.LastIndexByte(d.RoleARN, '/')+1:] + "/" + d.SessionName
	case *sts.GetFederationTokenOutput:
		session(out.Credentials)
		d.SessionName = deref(c.Input.(*sts.GetFederationTokenInput).Name)
		d.Label = "federated/" + d.SessionName
	case *sts.GetSessionTokenOutput:
		session(out.Credentials)
		d.Label = "session-token/" + c.AccessKeyID
	case *iam.CreateAccessKeyOutput:
		d.AccessKeyID, d.UserName = deref(out.AccessKey.AccessKeyId), deref(out.AccessKey.UserName)
		d.Label = "user/" + d.UserName
	case consoleSession: // the parent set the user's password
		d.AccessKeyID, d.UserName, d.Expires = out.AccessKeyID, out.UserName, out.Expires
		d.Label = "console/" + d.UserName
	default:
		return DerivedCredential{}, false
	}
	return d, d.AccessKeyID != ""
}

// created lists what a successful call created.
func (c call) created() []Resource {
	base := Resource{Account: c.Account, CreatedBy: c.AccessKeyID, Time: c.Time, StillExists: true}
	one := func(typ, id, parent, region string) []Resource {
		r := base
		r.Type, r.ID, r.Parent, r.Region = typ, id, parent, region
		return []Resource{r}
	}
	switch out := c.Output.(type) {
	case *iam.CreateUserOutput:
		return one("AWS::IAM::User", deref(out.User.UserName), "", "")
	case *iam.CreateRoleOutput:
		return one("AWS::IAM::Role", deref(out.Role.RoleName), "", "")
	case *iam.CreateAccessKeyOutput:
		return one("AWS::IAM::AccessKey", deref(out.AccessKey.AccessKeyId), deref(out.AccessKey.UserName), "")
	case *iam.CreateLoginProfileOutput:
		return one("AWS::IAM::LoginProfile", deref(out.LoginProfile.UserName), deref(out.LoginProfile.UserName), "")
	case *iam.UpdateLoginProfileOutput: // a password the attacker knows
		in := c.Input.(*iam.UpdateLoginProfileInput)
		return one("AWS::IAM::LoginProfile", deref(in.UserName), deref(in.UserName), "")
	case *iam.AttachUserPolicyOutput:
		in := c.Input.(*iam.AttachUserPolicyInput)
		return one("AWS::IAM::UserPolicyAttachment", deref(in.PolicyArn), deref(in.UserName), "")
	case *iam.AttachRolePolicyOutput:
		in := c.Input.(*iam.AttachRolePolicyInput)
		return one("AWS::IAM::RolePolicyAttachment", deref(in.PolicyArn), deref(in.RoleName), "")
	case *ec2.RunInstancesOutput:
		var rs []Resource
		for _, in := range out.Instances {
			rs = append(rs, one("AWS::EC2::Instance", deref(in.InstanceId), "", c.Region)...)
		}
		return rs
	case *ec2.RequestSpotInstancesOutput:
		var rs []Resource
		for _, req := range out.SpotInstanceRequests {
			rs = append(rs, one("AWS::EC2::SpotInstanceRequest", deref(req.SpotInstanceRequestId), "", c.Region)...)
		}
		return rs
	case *lambda.CreateFunctionOutput:
		return one("AWS::Lambda::Function", deref(out.FunctionName), "", c.Region)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// set collects distinct non-empty strings.
type set map[string]bool

func (s set) add(v string) {
	if v != "" {
		s[v] = true
	}
}

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
