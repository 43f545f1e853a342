package world

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Intake is the detectors' side of keyleak's intake in the world: the
// queue and its dead-letter queue in keyleak's account, and EventBridge
// rules on the default bus sending GuardDuty findings, AWS Health RISK
// events, canary CloudTrail calls and the custom event to the queue, as
// deploy/aws/intake.yaml sets them up.
type Intake struct {
	QueueURL, DeadLetterURL string
	cfg                     aws.Config
	account                 string
}

// IntakeRules are the rules' event patterns, by rule name (the same as
// deploy/aws/intake.yaml's).
var IntakeRules = map[string]string{
	"keyleak-guardduty": `{"source":["aws.guardduty"],"detail-type":["GuardDuty Finding"]}`,
	"keyleak-health":    `{"source":["aws.health"],"detail-type":["AWS Health Event"],"detail":{"service":["RISK"]}}`,
	"keyleak-custom":    `{"detail-type":["Leaked Access Key"]}`,
}

// StartIntake creates the queue (long poll, visibility timeout, redrive to
// the dead-letter queue after maxReceives) and the rules in account.
func (w *World) StartIntake(ctx context.Context, account string, visibility time.Duration, maxReceives int) (*Intake, error) {
	cfg := w.Config("us-east-1", w.Admin(account))
	q := sqs.NewFromConfig(cfg)
	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("keyleak-intake-dlq"),
		Attributes: map[string]string{"MessageRetentionPeriod": "1209600"}})
	if err != nil {
		return nil, fmt.Errorf("create the dead-letter queue: %w", err)
	}
	dlqARN := fmt.Sprintf("arn:aws:sqs:us-east-1:%s:keyleak-intake-dlq", account)
	redrive, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlqARN, "maxReceiveCount": maxReceives})
	main, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("keyleak-intake"), Attributes: map[string]string{
		"VisibilityTimeout": fmt.Sprint(int(visibility / time.Second)), "ReceiveMessageWaitTimeSeconds": "20",
		"MessageRetentionPeriod": "1209600", "RedrivePolicy": string(redrive),
	}})
	if err != nil {
		return nil, fmt.Errorf("create the intake queue: %w", err)
	}
	eb := eventbridge.NewFromConfig(cfg)
	queueARN := fmt.Sprintf("arn:aws:sqs:us-east-1:%s:keyleak-intake", account)
	for name, pattern := range IntakeRules {
		if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventPattern: aws.String(pattern)}); err != nil {
			return nil, fmt.Errorf("rule %s: %w", name, err)
		}
		if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name),
			Targets: []ebtypes.Target{{Id: aws.String("keyleak-intake"), Arn: aws.String(queueARN)}}}); err != nil {
			return nil, fmt.Errorf("target of %s: %w", name, err)
		}
	}
	return &Intake{QueueURL: aws.ToString(main.QueueUrl), DeadLetterURL: aws.ToString(dlq.QueueUrl), cfg: cfg, account: account}, nil
}

// AddCanaryRule sends CloudTrail calls made with the canary key to the
// queue, as a rule in a canary account would.
func (in *Intake) AddCanaryRule(ctx context.Context, key string) error {
	eb := eventbridge.NewFromConfig(in.cfg)
	pattern, _ := json.Marshal(map[string]any{"detail-type": []string{"AWS API Call via CloudTrail"}, "detail": map[string]any{"userIdentity": map[string]any{"accessKeyId": []string{key}}}})
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("keyleak-canary"), EventPattern: aws.String(string(pattern))}); err != nil {
		return err
	}
	_, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("keyleak-canary"),
		Targets: []ebtypes.Target{{Id: aws.String("keyleak-intake"), Arn: aws.String(in.queueARN())}}})
	return err
}

func (in *Intake) queueARN() string { return "arn:aws:sqs:us-east-1:" + in.account + ":keyleak-intake" }

// Put puts one event on the default bus, as the detector's service does
// (moto, unlike AWS, lets anyone send aws.* sources).
func (in *Intake) Put(ctx context.Context, source, detailType string, detail any) (eventID string, err error) {
	raw, err := json.Marshal(detail)
	if err != nil {
		return "", err
	}
	out, err := eventbridge.NewFromConfig(in.cfg).PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		Source: aws.String(source), DetailType: aws.String(detailType), Detail: aws.String(string(raw)),
	}}})
	if err != nil {
		return "", err
	}
	if out.FailedEntryCount > 0 || len(out.Entries) != 1 {
		return "", fmt.Errorf("PutEvents failed: %+v", out.Entries)
	}
	return aws.ToString(out.Entries[0].EventId), nil
}

// DeliverFindings sends GuardDuty finding events straight to the queue,
// ten to a SendMessageBatch call, with the body EventBridge's SQS target
// delivers (the event itself): for floods, which moto's EventBridge
// delivers at about ten events a second.
func (in *Intake) DeliverFindings(ctx context.Context, findings []Finding) error {
	q := sqs.NewFromConfig(in.cfg)
	for len(findings) > 0 {
		n := min(10, len(findings))
		var entries []sqstypes.SendMessageBatchRequestEntry
		for i, f := range findings[:n] {
			body, err := json.Marshal(map[string]any{
				"version": "0", "id": uuid(), "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
				"account": in.account, "time": f.At.UTC().Format(time.RFC3339), "region": f.Region, "resources": []string{},
				"detail": GuardDutyFinding(f),
			})
			if err != nil {
				return err
			}
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(string(body))})
		}
		out, err := q.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(in.QueueURL), Entries: entries})
		if err != nil {
			return err
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("SendMessageBatch: %d entries failed", len(out.Failed))
		}
		findings = findings[n:]
	}
	return nil
}

func uuid() string {
	h := randomHex(16)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Finding is what GuardDuty saw, to build a finding from.
type Finding struct {
	Type      string  // "UnauthorizedAccess:IAMUser/MaliciousIPCaller"
	Severity  float64 // 0–10
	Account   string
	Region    string
	Key       string // the access key ID
	UserName  string
	UserType  string // "IAMUser", "AssumedRole", "Root"
	API       string // the call that raised it
	SourceIP  string
	UserAgent string
	At        time.Time
	Title     string
	Sample    bool
	// ID is the finding's ID; a new one is made when empty. Republished
	// findings keep their ID.
	ID string
}

// GuardDutyFinding is the detail of a "GuardDuty Finding" event, with the
// fields and shapes of GuardDuty's findings (the API's Finding object).
func GuardDutyFinding(f Finding) map[string]any {
	if f.ID == "" {
		f.ID = randomHex(16)
	}
	at := f.At.UTC().Format("2006-01-02T15:04:05.000Z")
	info := map[string]any{}
	if f.Sample {
		info = map[string]any{"sample": true, "type": "default", "value": `{"sample":true}`}
	}
	return map[string]any{
		"schemaVersion": "2.0", "accountId": f.Account, "region": f.Region, "partition": "aws", "id": f.ID,
		"arn":  fmt.Sprintf("arn:aws:guardduty:%s:%s:detector/%s/finding/%s", f.Region, f.Account, randomHex(16), f.ID),
		"type": f.Type, "severity": f.Severity, "createdAt": at, "updatedAt": at,
		"title": f.Title, "description": f.Title,
		"resource": map[string]any{"resourceType": "AccessKey", "accessKeyDetails": map[string]any{
			"accessKeyId": f.Key, "principalId": "AIDA" + randomHex(8), "userName": f.UserName, "userType": f.UserType,
		}},
		"service": map[string]any{
			"serviceName": "guardduty", "detectorId": randomHex(16), "archived": false, "count": 1,
			"eventFirstSeen": at, "eventLastSeen": at, "resourceRole": "TARGET", "additionalInfo": info,
			"action": map[string]any{"actionType": "AWS_API_CALL", "awsApiCallAction": map[string]any{
				"api": f.API, "serviceName": "iam.amazonaws.com", "callerType": "Remote IP", "userAgent": f.UserAgent,
				"remoteIpDetails": map[string]any{"ipAddressV4": f.SourceIP, "organization": map[string]any{"asn": "64500", "asnOrg": "EXAMPLE"},
					"country": map[string]any{"countryName": "Example"}},
			}},
			"evidence": nil,
		},
	}
}

// HealthExposed is the detail of the AWS Health event AWS raises when it
// finds a key in public code (AWS_RISK_CREDENTIALS_EXPOSED).
func HealthExposed(key, user, account, exposedURL string, at time.Time) map[string]any {
	when := at.UTC().Format(time.RFC1123)
	id := randomHex(6)
	return map[string]any{
		"eventArn": "arn:aws:health:us-east-1::event/RISK/AWS_RISK_CREDENTIALS_EXPOSED/AWS_RISK_CREDENTIALS_EXPOSED-" + id,
		"service":  "RISK", "eventTypeCode": "AWS_RISK_CREDENTIALS_EXPOSED", "eventTypeCategory": "issue",
		"eventScopeCode": "ACCOUNT_SPECIFIC", "communicationId": randomHex(32) + "-1",
		"startTime": when, "lastUpdatedTime": when, "statusCode": "open", "eventRegion": "us-east-1",
		"eventDescription": []map[string]any{{"language": "en_US", "latestDescription": "Your AWS Account may be compromised! We have opened a Support Case with more details."}},
		"eventMetadata":    map[string]any{"accountId": account, "publicKey": key, "userName": user, "exposedUrl": exposedURL, "truncated": "false"},
		"affectedEntities": []map[string]any{{"entityValue": key, "lastUpdatedTime": when}},
		"affectedAccount":  account, "page": "1", "totalPages": "1",
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
