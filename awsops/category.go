package awsops

import (
	"slices"
	"strings"
	"time"

	"github.com/keyleak/keyleak/awsops/trail"
)

// Category is what an event suggests the caller was doing.
type Category string

// The categories of events.
const (
	CategoryRecon             Category = "recon"
	CategoryIAMPersistence    Category = "iam-persistence"
	CategoryCredentialMinting Category = "credential-minting"
	CategoryComputeAbuse      Category = "compute-abuse"
	CategoryDataAccess        Category = "data-access"
	CategoryDefenseEvasion    Category = "defense-evasion"
	CategoryErrors            Category = "errors-probing" // failed calls of no other category
	CategoryOther             Category = "other"
)

// eventCategories names the events of each flagged category, by event
// source without ".amazonaws.com".
var eventCategories = map[string]Category{
	"sts:AssumeRole": CategoryCredentialMinting, "sts:AssumeRoleWithSAML": CategoryCredentialMinting,
	"sts:AssumeRoleWithWebIdentity": CategoryCredentialMinting, "sts:GetSessionToken": CategoryCredentialMinting,
	"sts:GetFederationToken": CategoryCredentialMinting, "sso:GetRoleCredentials": CategoryCredentialMinting,
	"iam:CreateAccessKey": CategoryIAMPersistence, "iam:CreateLoginProfile": CategoryIAMPersistence,
	"ec2:RunInstances": CategoryComputeAbuse, "ec2:RequestSpotInstances": CategoryComputeAbuse,
	"ec2:RequestSpotFleet": CategoryComputeAbuse, "ec2:CreateFleet": CategoryComputeAbuse,
	"ec2:StartInstances": CategoryComputeAbuse, "ec2:CreateKeyPair": CategoryComputeAbuse,
	"ec2:ImportKeyPair": CategoryComputeAbuse, "ec2:AuthorizeSecurityGroupIngress": CategoryComputeAbuse,
	"ec2:CreateLaunchTemplate": CategoryComputeAbuse, "lambda:CreateFunction20150331": CategoryComputeAbuse,
	"lambda:CreateFunction": CategoryComputeAbuse, "lambda:UpdateFunctionCode20150331v2": CategoryComputeAbuse,
	"ecs:RunTask": CategoryComputeAbuse, "ecs:CreateCluster": CategoryComputeAbuse, "batch:SubmitJob": CategoryComputeAbuse,
	"autoscaling:CreateAutoScalingGroup": CategoryComputeAbuse, "autoscaling:UpdateAutoScalingGroup": CategoryComputeAbuse,
	"sagemaker:CreateNotebookInstance": CategoryComputeAbuse, "sagemaker:CreateTrainingJob": CategoryComputeAbuse,
	"lightsail:CreateInstances": CategoryComputeAbuse,
	"cloudtrail:StopLogging":    CategoryDefenseEvasion, "cloudtrail:DeleteTrail": CategoryDefenseEvasion,
	"cloudtrail:UpdateTrail": CategoryDefenseEvasion, "cloudtrail:PutEventSelectors": CategoryDefenseEvasion,
	"guardduty:DeleteDetector": CategoryDefenseEvasion, "guardduty:UpdateDetector": CategoryDefenseEvasion,
	"guardduty:DisassociateFromMasterAccount": CategoryDefenseEvasion, "config:StopConfigurationRecorder": CategoryDefenseEvasion,
	"config:DeleteConfigurationRecorder": CategoryDefenseEvasion, "config:DeleteDeliveryChannel": CategoryDefenseEvasion,
	"logs:DeleteLogGroup": CategoryDefenseEvasion, "logs:DeleteLogStream": CategoryDefenseEvasion,
	"ec2:DeleteFlowLogs": CategoryDefenseEvasion, "securityhub:DisableSecurityHub": CategoryDefenseEvasion,
	"organizations:LeaveOrganization": CategoryDefenseEvasion, "iam:DeactivateMFADevice": CategoryDefenseEvasion,
	"secretsmanager:GetSecretValue": CategoryDataAccess, "ssm:GetParameter": CategoryDataAccess,
	"ssm:GetParameters": CategoryDataAccess, "ssm:GetParametersByPath": CategoryDataAccess,
	"kms:Decrypt": CategoryDataAccess, "kms:GenerateDataKey": CategoryDataAccess,
	"ec2:CreateSnapshot": CategoryDataAccess, "ec2:ModifySnapshotAttribute": CategoryDataAccess,
	"rds:CreateDBSnapshot": CategoryDataAccess, "rds:ModifyDBSnapshotAttribute": CategoryDataAccess,
	"s3:PutBucketPolicy": CategoryDataAccess, "s3:PutBucketAcl": CategoryDataAccess,
	"s3:DeletePublicAccessBlock": CategoryDataAccess, "dynamodb:Scan": CategoryDataAccess,
	"sts:GetCallerIdentity": CategoryRecon, "s3:ListBuckets": CategoryRecon,
}

// categorize puts an event in one category.
func categorize(rec *trail.Record) Category {
	service := strings.TrimSuffix(rec.EventSource, ".amazonaws.com")
	if c, ok := eventCategories[service+":"+rec.EventName]; ok {
		return c
	}
	name := rec.EventName
	switch {
	case service == "iam" && !isReadName(name):
		return CategoryIAMPersistence
	case rec.EventCategory == "Data" || !rec.ManagementEvent && service == "s3":
		return CategoryDataAccess
	case rec.ErrorCode != "":
		return CategoryErrors
	case isReadName(name):
		return CategoryRecon
	}
	return CategoryOther
}

func isReadName(name string) bool {
	for _, p := range []string{"Get", "List", "Describe", "Head", "Lookup", "Search", "Scan", "BatchGet"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// FlaggedEvent is one event a responder should look at.
type FlaggedEvent struct {
	Time        time.Time `json:"time"`
	Category    Category  `json:"category"`
	EventName   string    `json:"event_name"`
	EventSource string    `json:"event_source"`
	Region      string    `json:"region"`
	SourceIP    string    `json:"source_ip"`
	UserAgent   string    `json:"user_agent"`
	AccessKeyID string    `json:"access_key_id"` // the credential used
	Principal   string    `json:"principal"`     // its ARN
	ErrorCode   string    `json:"error_code,omitempty"`
	EventID     string    `json:"event_id"`
	// Target names what the call acted on, when the event says.
	Target string `json:"target,omitempty"`
}

// flagged reports whether an event goes in the flagged list: everything
// but recon, plain failures and S3 object reads (which data events sum).
func flagged(rec *trail.Record, cat Category) bool {
	switch cat {
	case CategoryIAMPersistence, CategoryCredentialMinting, CategoryComputeAbuse, CategoryDefenseEvasion:
		return true
	case CategoryDataAccess:
		return rec.ManagementEvent
	}
	return false
}

func isKMSDecrypt(rec *trail.Record) bool {
	return rec.EventSource == "kms.amazonaws.com" && (rec.EventName == "Decrypt" || strings.HasPrefix(rec.EventName, "GenerateDataKey") || rec.EventName == "ReEncrypt")
}

func flagEvent(rec *trail.Record, cat Category) FlaggedEvent {
	f := FlaggedEvent{Time: rec.EventTime, Category: cat, EventName: rec.EventName, EventSource: rec.EventSource,
		Region: rec.AWSRegion, SourceIP: rec.SourceIPAddress, UserAgent: rec.UserAgent,
		AccessKeyID: rec.UserIdentity.AccessKeyID, Principal: rec.UserIdentity.ARN, ErrorCode: rec.ErrorCode, EventID: rec.EventID}
	for _, r := range rec.Resources {
		if r.Type != "AWS::IAM::AccessKey" || f.Target == "" {
			f.Target = r.ARN
		}
		if r.Type != "AWS::IAM::AccessKey" {
			break
		}
	}
	return f
}

func sortEvents(evs []FlaggedEvent) {
	slices.SortStableFunc(evs, func(a, b FlaggedEvent) int { return a.Time.Compare(b.Time) })
}
