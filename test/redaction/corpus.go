// Package redaction holds realistic pastes that carry AWS secrets (config
// files, shell history, URLs, JSON, Slack markup), for the tests that
// follow a pasted secret from the parser to everything keyleak keeps and
// sends: the store, replies, logs, the report and email.
package redaction

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
)

// Paste is one message a responder might paste.
type Paste struct {
	Name    string
	Text    string
	Secrets []string // what it carries that must never be kept or repeated
}

// Key IDs that go with the secrets; they are not secret.
const (
	KeyID     = "AKIARZPUZDIKPBTH3MJK"
	SessionID = "ASIARZPUZDIKQ7NW2XRT"
)

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

// keys draws n secret access keys as AWS does (40 characters of
// [A-Za-z0-9/+]), each with a '/' or '+' so that every URL form differs
// from the plain one.
func keys(n int) []string {
	rng := rand.New(rand.NewPCG(2026, 12))
	var out []string
	for len(out) < n {
		b := make([]byte, 40)
		for i := range b {
			b[i] = keyAlphabet[rng.IntN(len(keyAlphabet))]
		}
		if k := string(b); strings.ContainsAny(k, "/+") {
			out = append(out, k)
		}
	}
	return out
}

// token draws an STS session token (current format), n characters long.
func token(seed uint64, n int) string {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := []byte("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH")
	for len(b) < n {
		b = append(b, keyAlphabet[rng.IntN(len(keyAlphabet))])
	}
	return string(b)
}

// Forms are the spellings of a secret that must not appear anywhere: as
// is, percent-encoded (as in a URL) and base64-encoded (as in a
// Kubernetes Secret).
func Forms(secret string) []string {
	forms := []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))}
	if esc := url.QueryEscape(secret); esc != secret {
		forms = append(forms, esc)
	}
	if esc := strings.NewReplacer("/", "%2F", "+", "%2B").Replace(secret); esc != secret {
		forms = append(forms, esc)
	}
	return forms
}

// Corpus returns the pastes, each with the secrets it carries, and a few
// with none (which must pass unchanged).
func Corpus() []Paste {
	k := keys(40)
	tok, tok2 := token(1, 700), token(2, 420)
	qk := func(s string) string { return url.QueryEscape(s) }
	pk := func(s string) string { return url.PathEscape(s) }
	var out []Paste
	add := func(name, text string, secrets ...string) {
		out = append(out, Paste{Name: name, Text: text, Secrets: secrets})
	}
	add("credentials file", fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", KeyID, k[0]), k[0])
	add("credentials file with a session", fmt.Sprintf("[ci]\naws_access_key_id=%s\naws_secret_access_key=%s\naws_session_token=%s", SessionID, k[1], tok), k[1], tok)
	add("env file", fmt.Sprintf("AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_REGION=eu-west-1", KeyID, k[2]), k[2])
	add("env file quoted", fmt.Sprintf("export AWS_SECRET_ACCESS_KEY=\"%s\"", k[3]), k[3])
	add("shell history", fmt.Sprintf("  501  aws configure set aws_secret_access_key %s --profile prod\n  502  aws s3 ls --profile prod", k[4]), k[4])
	add("docker run", fmt.Sprintf("docker run -e AWS_ACCESS_KEY_ID=%s -e AWS_SECRET_ACCESS_KEY=%s amazon/aws-cli sts get-caller-identity", KeyID, k[5]), k[5])
	add("JSON from create-access-key", fmt.Sprintf(`{"AccessKey": {"UserName": "ci-deploy-user", "AccessKeyId": "%s", "Status": "Active", "SecretAccessKey": "%s", "CreateDate": "2026-11-21T10:45:00Z"}}`, KeyID, k[6]), k[6])
	add("JSON from get-session-token", fmt.Sprintf(`{"Credentials":{"AccessKeyId":"%s","SecretAccessKey":"%s","SessionToken":"%s","Expiration":"2026-12-06T20:00:00Z"}}`, SessionID, k[7], tok2), k[7], tok2)
	add("YAML", fmt.Sprintf("aws:\n  access_key_id: %s\n  secret_access_key: %s\n", KeyID, k[8]), k[8])
	add("terraform tfvars", fmt.Sprintf("aws_access_key = \"%s\"\naws_secret_key = \"%s\"", KeyID, k[9]), k[9])
	add("terraform state excerpt", fmt.Sprintf(`"attributes": {"id": "%s", "secret": "%s", "user": "ci-deploy-user"}`, KeyID, k[10]), k[10])
	add("Java properties", fmt.Sprintf("aws.accessKeyId=%s\naws.secretKey=%s", KeyID, k[11]), k[11])
	add("Python", fmt.Sprintf("s3 = boto3.client('s3', aws_access_key_id='%s', aws_secret_access_key='%s')", KeyID, k[12]), k[12])
	add("Go", fmt.Sprintf(`credentials.NewStaticCredentialsProvider("%s", "%s", "")`, KeyID, k[13]), k[13])
	add("GitHub Actions", fmt.Sprintf("env:\n  AWS_ACCESS_KEY_ID: %s\n  AWS_SECRET_ACCESS_KEY: %s # TODO move to secrets", KeyID, k[14]), k[14])
	add("Kubernetes Secret", fmt.Sprintf("apiVersion: v1\nkind: Secret\ndata:\n  aws_secret_access_key: %s\n", base64.StdEncoding.EncodeToString([]byte(k[15]))), k[15])
	add("s3a URL user info", fmt.Sprintf("hadoop fs -ls s3a://%s:%s@data-lake/raw/", KeyID, k[16]), k[16])
	add("s3a URL user info escaped", fmt.Sprintf("spark.read.parquet(\"s3a://%s:%s@data-lake/events/\")", KeyID, pk(k[17])), k[17])
	add("CodeCommit clone URL", fmt.Sprintf("git clone https://%s:%s@git-codecommit.eu-west-1.amazonaws.com/v1/repos/infra", KeyID, qk(k[18])), k[18])
	add("HTTPS user info plain", fmt.Sprintf("https://%s:%s@s3.amazonaws.com/backups", KeyID, k[19]), k[19])
	add("query string", fmt.Sprintf("https://ci.example.com/job/deploy?aws_key=%s&aws_secret=%s&branch=main", KeyID, qk(k[20])), k[20])
	add("query string unescaped", fmt.Sprintf("https://ci.example.com/hook?secret=%s&id=7", k[21]), k[21])
	add("Slack link markup", fmt.Sprintf("see <https://ci.example.com/run?secret=%s|the CI run>", qk(k[22])), k[22])
	add("Slack link label", fmt.Sprintf("<https://console.aws.amazon.com/iam|%s>", k[23]), k[23])
	add("glued after a slash", fmt.Sprintf("it was in config/%s in the repo", k[24]), k[24])
	add("path segment", fmt.Sprintf("https://gist.githubusercontent.com/anon/raw/%s/creds.txt", pk(k[25])), k[25])
	add("percent-encoded twice", fmt.Sprintf("redirect=%s", url.QueryEscape("https://x.example/?k="+qk(k[26]))), k[26])
	add("presigned URL", fmt.Sprintf("https://backups-bucket.s3.amazonaws.com/db.sql.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F20261206%%2Feu-west-1%%2Fs3%%2Faws4_request&X-Amz-Security-Token=%s&X-Amz-Signature=0b1e", SessionID, qk(tok)), tok)
	add("code block", "```\n"+k[27]+"\n```", k[27])
	add("inline code", "the secret is `"+k[28]+"` (rotated?)", k[28])
	add("bold", "*"+k[29]+"*", k[29])
	add("two keys on a line", k[30]+" "+k[31], k[30], k[31])
	add("key then note", k[32]+" leaked in the CI logs of job 4411", k[32])
	add("INI with spaces", fmt.Sprintf("aws_secret_access_key   =   %s   ", k[33]), k[33])
	add("CSV from the console", fmt.Sprintf("User name,Password,Access key ID,Secret access key\nci-deploy-user,,%s,%s", KeyID, k[34]), k[34])
	add("AWS CLI error paste", fmt.Sprintf("An error occurred (SignatureDoesNotMatch) ... Check your AWS Secret Access Key and signing method. Key: %s", k[35]), k[35])
	add("XML", fmt.Sprintf("<SecretAccessKey>%s</SecretAccessKey>", k[36]), k[36])
	add("unbalanced quote", fmt.Sprintf(`it said "secret=%s and stopped`, k[37]), k[37])
	add("session token alone", "AWS_SESSION_TOKEN="+token(3, 500), token(3, 500))
	add("key in parentheses after colon", fmt.Sprintf("secret:(%s)", k[38]), k[38])
	add("mixed escapes", fmt.Sprintf("s3://bucket/%s", strings.ReplaceAll(k[39], "/", "%2f")), k[39])
	// No secret: these must come through unchanged.
	add("a key ID only", "found "+KeyID+" in a public repo, commit da39a3ee5e6b4b0d3255bfef95601890afd80709")
	add("a plain URL", "https://github.com/acme/ci-config/blob/main/deploy.yml#L12")
	add("a sentence", "the attacker assumed eks-node-role at 10:45 and read config-bucket/prod.tfstate")
	add("a CamelCase identifier", "see AbstractSingletonProxyFactoryBeanWrapper in the stack trace")
	return out
}
