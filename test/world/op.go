package world

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// operation is what one request asks of AWS, as CloudTrail and IAM see it.
type operation struct {
	Service   string // SigV4 signing name: iam, sts, s3, ec2, lambda, ce, cloudtrail…
	Family    family
	Name      string         // CloudTrail eventName, e.g. GetObject, ListFunctions20150331
	Action    string         // IAM action, e.g. s3:GetObject
	Params    map[string]any // CloudTrail requestParameters
	Resources []resource     // what the call acts on
	ReadOnly  bool
	Data      bool // a data event (S3 object level, Lambda Invoke), not a management event
}

// resource is one resource of an event; ARN may be empty when only the name is known.
type resource struct {
	ARN  string
	Type string // AWS::IAM::User, AWS::S3::Object…
	Name string
}

// classify reads the operation of a request to service in account/region.
func classify(r *http.Request, body []byte, service, account, region string) operation {
	op := operation{Service: service}
	switch {
	case service == "s3":
		op.Family = familyS3
		classifyS3(&op, r, body)
	case service == "ec2":
		op.Family = familyEC2
		classifyQuery(&op, r, body)
	case r.Header.Get("X-Amz-Target") != "":
		op.Family = familyJSON
		target := r.Header.Get("X-Amz-Target")
		op.Name = target[strings.LastIndexByte(target, '.')+1:]
		op.Params = jsonParams(body)
	case service == "lambda":
		op.Family = familyRESTJSON
		classifyLambda(&op, r, body)
	case service == "rolesanywhere" || service == "eks" || service == "signin":
		if !classifyLocal(&op, r, body) {
			op.Family = familyRESTJSON
			op.Params = jsonParams(body)
			parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
			op.Name = upperFirst(strings.ToLower(r.Method)) + upperFirst(parts[len(parts)-1])
		}
	default:
		op.Family = familyQuery
		classifyQuery(&op, r, body)
	}
	if op.Action == "" {
		op.Action = iamPrefix(service) + ":" + op.Name
	}
	op.ReadOnly = readOnlyName(op.Name)
	shapeParams(&op)
	op.Resources = append(op.Resources, paramResources(op.Params, service, account, region)...)
	return op
}

func iamPrefix(service string) string {
	if service == "monitoring" {
		return "cloudwatch"
	}
	return service
}

func readOnlyName(name string) bool {
	for _, p := range []string{"Get", "List", "Describe", "Lookup", "Head", "Search", "Select"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func classifyQuery(op *operation, r *http.Request, body []byte) {
	values := r.URL.Query()
	if form, err := url.ParseQuery(string(body)); err == nil && len(body) > 0 {
		for k, v := range form {
			values[k] = v
		}
	}
	op.Name = values.Get("Action")
	params := map[string]any{}
	for k, v := range values {
		if k == "Action" || k == "Version" || strings.HasPrefix(k, "X-Amz-") || len(v) == 0 {
			continue
		}
		params[lowerFirst(k)] = v[0]
	}
	op.Params = params
}

func jsonParams(body []byte) map[string]any {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil || len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[lowerFirst(k)] = v
	}
	return out
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// classifyS3 names path-style S3 calls: /bucket/key?subresource.
func classifyS3(op *operation, r *http.Request, body []byte) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	params := map[string]any{"Host": r.Host}
	if bucket != "" {
		params["bucketName"] = bucket
	}
	if key != "" {
		params["key"] = key
	}
	sub := ""
	for _, s := range sortedKeys(q) {
		if !strings.HasPrefix(s, "X-Amz-") && !strings.HasPrefix(s, "x-id") && s != "list-type" &&
			s != "prefix" && s != "delimiter" && s != "max-keys" && s != "continuation-token" &&
			s != "marker" && s != "encoding-type" && s != "versionId" && s != "uploadId" && s != "partNumber" {
			sub = s
			break
		}
		params[s] = q.Get(s)
	}
	op.Params = params
	s3BodyParams(params, r, body, sub)
	verb := map[string]string{http.MethodGet: "Get", http.MethodPut: "Put", http.MethodDelete: "Delete",
		http.MethodHead: "Head", http.MethodPost: "Post"}[r.Method]
	switch {
	case bucket == "":
		op.Name, op.Action = "ListBuckets", "s3:ListAllMyBuckets"
	case key == "" && sub == "":
		switch r.Method {
		case http.MethodGet:
			op.Name, op.Action = "ListObjects", "s3:ListBucket"
			if q.Get("list-type") == "2" {
				op.Name = "ListObjectsV2"
			}
		case http.MethodHead:
			op.Name, op.Action = "HeadBucket", "s3:ListBucket"
		default:
			op.Name = verb + "Bucket"
			if r.Method == http.MethodPut {
				op.Name = "CreateBucket"
			}
			op.Action = "s3:" + op.Name
		}
		op.Resources = []resource{{ARN: "arn:aws:s3:::" + bucket, Type: "AWS::S3::Bucket", Name: bucket}}
	case key == "":
		op.Name = verb + "Bucket" + upperFirst(sub)
		if sub == "delete" && r.Method == http.MethodPost {
			op.Name, op.Data = "DeleteObjects", true // object-level: a data event
		}
		op.Action = "s3:" + op.Name
		op.Resources = []resource{{ARN: "arn:aws:s3:::" + bucket, Type: "AWS::S3::Bucket", Name: bucket}}
	default:
		op.Data = true
		switch {
		case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
			op.Name = "CopyObject"
		case r.Method == http.MethodPost && sub == "uploads":
			op.Name = "CreateMultipartUpload"
		case sub != "":
			op.Name = verb + "Object" + upperFirst(sub)
		default:
			op.Name = verb + "Object"
		}
		op.Action = "s3:" + op.Name
		if r.Method == http.MethodHead {
			op.Action = "s3:GetObject"
		}
		op.Resources = []resource{
			{ARN: "arn:aws:s3:::" + bucket + "/" + key, Type: "AWS::S3::Object", Name: key},
			{ARN: "arn:aws:s3:::" + bucket, Type: "AWS::S3::Bucket", Name: bucket},
		}
	}
}

// classifyLambda names Lambda's REST calls: /2015-03-31/functions/{name}/….
func classifyLambda(op *operation, r *http.Request, body []byte) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	op.Params = jsonParams(body)
	if op.Params == nil {
		op.Params = map[string]any{}
	}
	if len(parts) < 2 {
		op.Name = r.Method + strings.ReplaceAll(r.URL.Path, "/", "_")
		return
	}
	version := strings.ReplaceAll(parts[0], "-", "")
	rest := parts[1:]
	if len(rest) >= 2 && rest[0] == "functions" {
		name, _ := url.PathUnescape(rest[1])
		op.Params["functionName"] = name
	}
	var base string
	switch {
	case len(rest) == 1 && rest[0] == "functions":
		base = map[string]string{http.MethodGet: "ListFunctions", http.MethodPost: "CreateFunction"}[r.Method]
	case len(rest) == 2 && rest[0] == "functions":
		base = map[string]string{http.MethodGet: "GetFunction", http.MethodDelete: "DeleteFunction"}[r.Method]
	case len(rest) == 3 && rest[2] == "invocations":
		base, version = "Invoke", ""
		op.Data = true
	case len(rest) == 3 && rest[2] == "configuration":
		base = map[string]string{http.MethodGet: "GetFunctionConfiguration", http.MethodPut: "UpdateFunctionConfiguration"}[r.Method]
	case len(rest) == 3 && rest[2] == "code":
		base = "UpdateFunctionCode"
	case len(rest) == 3 && rest[2] == "policy":
		base = map[string]string{http.MethodGet: "GetPolicy", http.MethodPost: "AddPermission"}[r.Method]
	case len(rest) == 4 && rest[2] == "policy" && r.Method == http.MethodDelete:
		base = "RemovePermission"
		op.Params["statementId"], _ = url.PathUnescape(rest[3])
	case len(rest) == 3 && rest[2] == "url":
		base = map[string]string{http.MethodGet: "GetFunctionUrlConfig", http.MethodPost: "CreateFunctionUrlConfig",
			http.MethodPut: "UpdateFunctionUrlConfig", http.MethodDelete: "DeleteFunctionUrlConfig"}[r.Method]
	}
	if base == "" {
		base = upperFirst(strings.ToLower(r.Method)) + upperFirst(rest[len(rest)-1])
	}
	op.Name = lambdaEventName(base, version)
	op.Action = "lambda:" + base
	if base == "Invoke" {
		op.Action = "lambda:InvokeFunction"
	}
}

// lambdaEventName is CloudTrail's name for a Lambda call of an API
// version (20150331…): the version appended, and v2 for the newer
// revisions of some 2015-03-31 calls.
func lambdaEventName(base, version string) string {
	switch base {
	case "AddPermission", "RemovePermission", "GetPolicy", "UpdateFunctionCode", "UpdateFunctionConfiguration":
		if version == "20150331" {
			version += "v2"
		}
	}
	return base + version
}

// S3EventName is CloudTrail's name for the S3 SDK operation op: the
// lifecycle calls keep their older names.
func S3EventName(op string) string {
	if name, ok := strings.CutSuffix(op, "BucketLifecycleConfiguration"); ok {
		return name + "BucketLifecycle"
	}
	return op
}

// LambdaEventName is CloudTrail's name for the Lambda SDK operation op.
func LambdaEventName(op string) string {
	switch {
	case op == "Invoke":
		return op
	case strings.HasSuffix(op, "FunctionUrlConfig"):
		return lambdaEventName(op, "20211031")
	}
	return lambdaEventName(op, "20150331")
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func sortedKeys(q url.Values) []string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// paramResources derives resources from well-known request parameters.
func paramResources(params map[string]any, service, account, region string) []resource {
	str := func(k string) string { s, _ := params[k].(string); return s }
	var out []resource
	if service == "iam" {
		if u := str("userName"); u != "" {
			out = append(out, resource{"arn:aws:iam::" + account + ":user/" + u, "AWS::IAM::User", u})
		}
		if g := str("groupName"); g != "" {
			out = append(out, resource{"arn:aws:iam::" + account + ":group/" + g, "AWS::IAM::Group", g})
		}
		if n := str("roleName"); n != "" {
			out = append(out, resource{"arn:aws:iam::" + account + ":role/" + n, "AWS::IAM::Role", n})
		}
		if k := str("accessKeyId"); k != "" {
			out = append(out, resource{"arn:aws:iam::" + account + ":accesskey/" + k, "AWS::IAM::AccessKey", k})
		}
	}
	if a := str("policyArn"); a != "" {
		out = append(out, resource{a, "AWS::IAM::Policy", a})
	}
	if a := str("roleArn"); a != "" {
		out = append(out, resource{a, "AWS::IAM::Role", a})
	}
	if f := str("functionName"); f != "" && service == "lambda" {
		arn := f
		if !strings.HasPrefix(f, "arn:") {
			arn = "arn:aws:lambda:" + region + ":" + account + ":function:" + f
		}
		out = append(out, resource{arn, "AWS::Lambda::Function", f})
	}
	for k, v := range params {
		if s, ok := v.(string); ok && service == "ec2" && strings.HasPrefix(k, "instanceId") {
			out = append(out, resource{"arn:aws:ec2:" + region + ":" + account + ":instance/" + s, "AWS::EC2::Instance", s})
		}
	}
	return out
}
