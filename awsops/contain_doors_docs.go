package awsops

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// policyDoc is one kind of resource policy (or trust) keyleak reads,
// rewrites without the attacker's statements, and puts back: the one
// place that knows its calls, for the investigation's check, close-doors
// and reopen-doors alike.
type policyDoc struct {
	what string // "the bucket policy"
	// param is where the opening event's request holds the document.
	param []string
	// earlier are the calls that write (or, with a nil path, remove) the
	// document, with where their requests hold it: the last one before
	// the attacker's tells what the document was before.
	earlier map[string][]string
	// get reads the document now; "" when there is none or the resource
	// is gone.
	get func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error)
	// put writes doc; why says which document it is, for the call shown.
	put func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep
	// del removes the document; nil when an empty one must be refused
	// (emptyRefusal says why).
	del          func(cfg aws.Config, it DoorItem) cleanupStep
	emptyRefusal string
}

// step is one call of a policy document.
func step(call string, run func(ctx context.Context) error) cleanupStep {
	return cleanupStep{call: call, run: run}
}

var policyDocs = map[string]policyDoc{
	DoorBucketPolicy: {
		what: "the bucket policy", param: []string{"bucketPolicy"},
		earlier: map[string][]string{"PutBucketPolicy": {"bucketPolicy"}, "DeleteBucketPolicy": nil},
		get: func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
			out, err := s3Client(cfg).GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(it.ID)})
			if isAPIError(err, "NoSuchBucketPolicy", "NoSuchBucket") {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("policy of %s (s3:GetBucketPolicy): %w", it.ID, err)
			}
			return aws.ToString(out.Policy), nil
		},
		put: func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep {
			return step("s3:PutBucketPolicy "+it.ID+" ("+why+")", func(ctx context.Context) error {
				_, err := s3Client(cfg).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(it.ID), Policy: aws.String(doc)})
				return err
			})
		},
		del: func(cfg aws.Config, it DoorItem) cleanupStep {
			return step("s3:DeleteBucketPolicy "+it.ID, func(ctx context.Context) error {
				_, err := s3Client(cfg).DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String(it.ID)})
				return err
			})
		},
	},
	DoorKeyPolicy: {
		what: "the key policy", param: []string{"policy"},
		earlier: map[string][]string{"PutKeyPolicy": {"policy"}, "CreateKey": {"policy"}},
		get: func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
			out, err := kms.NewFromConfig(cfg).GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(it.ID), PolicyName: aws.String("default")})
			if isAPIError(err, "NotFoundException") {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("policy of key %s (kms:GetKeyPolicy): %w", it.ID, err)
			}
			return aws.ToString(out.Policy), nil
		},
		put: func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep {
			return step("kms:PutKeyPolicy "+it.ID+" PolicyName=default ("+why+")", func(ctx context.Context) error {
				_, err := kms.NewFromConfig(cfg).PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(it.ID), PolicyName: aws.String("default"), Policy: aws.String(doc)})
				return err
			})
		},
		emptyRefusal: "without the attacker's statements the key policy of %s would be empty, which locks everyone out of the key: write its policy by hand",
	},
	DoorSecretPolicy: {
		what: "the secret's policy", param: []string{"resourcePolicy"},
		earlier: map[string][]string{"PutResourcePolicy": {"resourcePolicy"}, "DeleteResourcePolicy": nil},
		get: func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
			out, err := secretsmanager.NewFromConfig(cfg).GetResourcePolicy(ctx, &secretsmanager.GetResourcePolicyInput{SecretId: aws.String(it.ID)})
			if goneAlready(err) {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("policy of %s (secretsmanager:GetResourcePolicy): %w", it.ID, err)
			}
			return aws.ToString(out.ResourcePolicy), nil
		},
		put: func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep {
			return step("secretsmanager:PutResourcePolicy "+it.ID+" ("+why+")", func(ctx context.Context) error {
				_, err := secretsmanager.NewFromConfig(cfg).PutResourcePolicy(ctx, &secretsmanager.PutResourcePolicyInput{SecretId: aws.String(it.ID), ResourcePolicy: aws.String(doc)})
				return err
			})
		},
		del: func(cfg aws.Config, it DoorItem) cleanupStep {
			return step("secretsmanager:DeleteResourcePolicy "+it.ID, func(ctx context.Context) error {
				_, err := secretsmanager.NewFromConfig(cfg).DeleteResourcePolicy(ctx, &secretsmanager.DeleteResourcePolicyInput{SecretId: aws.String(it.ID)})
				return err
			})
		},
	},
	DoorRepositoryPolicy: {
		what: "the repository policy", param: []string{"policyText"},
		earlier: map[string][]string{"SetRepositoryPolicy": {"policyText"}, "DeleteRepositoryPolicy": nil},
		get: func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
			out, err := ecr.NewFromConfig(cfg).GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: aws.String(it.ID)})
			if isAPIError(err, "RepositoryPolicyNotFoundException", "RepositoryNotFoundException") {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("policy of repository %s (ecr:GetRepositoryPolicy): %w", it.ID, err)
			}
			return aws.ToString(out.PolicyText), nil
		},
		put: func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep {
			return step("ecr:SetRepositoryPolicy "+it.ID+" ("+why+")", func(ctx context.Context) error {
				_, err := ecr.NewFromConfig(cfg).SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: aws.String(it.ID), PolicyText: aws.String(doc)})
				return err
			})
		},
		del: func(cfg aws.Config, it DoorItem) cleanupStep {
			return step("ecr:DeleteRepositoryPolicy "+it.ID, func(ctx context.Context) error {
				_, err := ecr.NewFromConfig(cfg).DeleteRepositoryPolicy(ctx, &ecr.DeleteRepositoryPolicyInput{RepositoryName: aws.String(it.ID)})
				return err
			})
		},
	},
	DoorTopicPolicy: {
		what: "the topic policy", param: []string{"attributeValue"},
		earlier: map[string][]string{"SetTopicAttributes": {"attributeValue"}, "CreateTopic": {"attributes", "Policy"}},
		get: func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
			out, err := sns.NewFromConfig(cfg).GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(it.ID)})
			if isAPIError(err, "NotFound") {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("policy of topic %s (sns:GetTopicAttributes): %w", it.ID, err)
			}
			return out.Attributes["Policy"], nil
		},
		put: func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep {
			return step("sns:SetTopicAttributes "+it.ID+" AttributeName=Policy ("+why+")", func(ctx context.Context) error {
				_, err := sns.NewFromConfig(cfg).SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: aws.String(it.ID),
					AttributeName: aws.String("Policy"), AttributeValue: aws.String(doc)})
				return err
			})
		},
		// A topic always has a policy; without one, its owner's default.
		emptyRefusal: "without the attacker's statements the policy of topic %s would be empty, and SNS does not allow that: write its policy by hand (the default admits only the owner)",
	},
	DoorQueuePolicy: {
		what: "the queue policy", param: []string{"attributes", "Policy"},
		earlier: map[string][]string{"SetQueueAttributes": {"attributes", "Policy"}, "CreateQueue": {"attributes", "Policy"}},
		get: func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
			out, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(it.ID),
				AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNamePolicy}})
			if isAPIError(err, "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist") {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("policy of queue %s (sqs:GetQueueAttributes): %w", it.ID, err)
			}
			return out.Attributes[string(sqstypes.QueueAttributeNamePolicy)], nil
		},
		put: func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep {
			return step("sqs:SetQueueAttributes "+it.ID+" Policy ("+why+")", func(ctx context.Context) error {
				_, err := sqs.NewFromConfig(cfg).SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(it.ID),
					Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): doc}})
				return err
			})
		},
		del: func(cfg aws.Config, it DoorItem) cleanupStep {
			return step("sqs:SetQueueAttributes "+it.ID+" Policy=\"\" (no policy)", func(ctx context.Context) error {
				_, err := sqs.NewFromConfig(cfg).SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(it.ID),
					Attributes: map[string]string{string(sqstypes.QueueAttributeNamePolicy): ""}})
				return err
			})
		},
	},
	DoorRoleTrust: {
		what: "the role's trust", param: []string{"policyDocument"},
		earlier: map[string][]string{"UpdateAssumeRolePolicy": {"policyDocument"}, "CreateRole": {"assumeRolePolicyDocument"}},
		get: func(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
			out, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(it.ID)})
			if goneAlready(err) {
				return "", nil
			}
			if err != nil {
				return "", fmt.Errorf("trust of role %s (iam:GetRole): %w", it.ID, err)
			}
			return aws.ToString(out.Role.AssumeRolePolicyDocument), nil
		},
		put: func(cfg aws.Config, it DoorItem, doc, why string) cleanupStep {
			return step("iam:UpdateAssumeRolePolicy "+roleARNOf(cfg, it)+" ("+why+")", func(ctx context.Context) error {
				_, err := iam.NewFromConfig(cfg).UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(it.ID), PolicyDocument: aws.String(doc)})
				return err
			})
		},
		emptyRefusal: "without the attacker's principals the trust of role %s would admit no one; delete the role (cleanup) if the attacker made it, or write its trust by hand",
	},
}

func roleARNOf(cfg aws.Config, it DoorItem) string {
	return "arn:" + partitionOf(cfg.Region) + ":iam::" + it.Account + ":role/" + it.ID
}

// documentClosing removes what the attacker added to a resource policy
// or a role's trust: its statements (or, for a trust, its principals),
// leaving the rest as it is.
func (r *containRun) documentClosing(ctx context.Context, cfg aws.Config, it DoorItem, who []string) (doorState, error) {
	pd := policyDocs[it.Kind]
	current, err := r.currentDocument(ctx, cfg, it)
	if err != nil {
		return doorState{}, err
	}
	if current == "" {
		return doorState{}, nil
	}
	if name, dup := duplicateMember(decodePolicyDocument(current)); dup {
		return doorState{}, refusal(ErrAmbiguousPolicy, "%s of %s names %q twice in one object: AWS may apply either, so keyleak will not rewrite it; put a corrected %s by hand",
			pd.what, it.ID, name, pd.what)
	}
	attacker := r.attackerDocument(ctx, it)
	earlier := r.earlierDocument(ctx, it)
	after, doubt, err := withoutDoor(current, attacker, earlier.state, earlier.known, who, it.Kind == DoorRoleTrust)
	if err != nil {
		return doorState{}, err
	}
	if normal, _ := normalPolicy(current); normal == after {
		return doorState{}, nil
	}
	st := doorState{prior: mustNormal(current), after: after}
	switch {
	case earlier.known:
		st.note = " What the attacker's request added is told from " + pd.what + " before it" + earlier.told() + ": the rest stays as it was."
	case doubt && attacker == "":
		st.note = " CHECK FIRST: CloudTrail no longer shows the attacker's document, nor " + pd.what + " before it: the statements naming " +
			strings.Join(who, ", ") + " are removed, and the owner may have had some of them before. Deny statements are kept."
	case doubt:
		st.note = " CHECK FIRST: CloudTrail holds no earlier write of " + pd.what + " (it keeps 90 days): " + strings.Join(who, ", ") +
			" are removed from the statements the attacker's request wrote, and the owner may have had some of them before. Deny statements are kept."
	}
	if it.Kind == DoorRoleTrust {
		st.note += " Sessions already issued through the trust keep working until they expire: revoke-sessions " + roleARNOf(cfg, it) + " cuts them."
	}
	kept := statementCount(after)
	switch {
	case kept > 0:
		why := fmt.Sprintf("without the attacker's statements; %d kept", kept)
		if it.Kind == DoorRoleTrust {
			why = "drop " + strings.Join(who, ", ")
		}
		st.steps = []cleanupStep{pd.put(cfg, it, after, why)}
	case pd.del != nil:
		st.steps = []cleanupStep{pd.del(cfg, it)}
	default:
		return doorState{}, refusal(ErrPolicyChanged, pd.emptyRefusal, it.ID)
	}
	return st, nil
}

// currentDocument reads a document door's policy now; "" when it has none.
func (r *containRun) currentDocument(ctx context.Context, cfg aws.Config, it DoorItem) (string, error) {
	pd, ok := policyDocs[it.Kind]
	if !ok {
		return "", fmt.Errorf("%s has no document", it.Kind)
	}
	if it.Kind == DoorRoleTrust {
		if err := r.c.CheckNotProtected(ctx, roleARNOf(cfg, it)); err != nil {
			return "", err
		}
	}
	return pd.get(ctx, cfg, it)
}

// documentPut writes a door's recorded prior document back.
func documentPut(cfg aws.Config, it DoorItem) []cleanupStep {
	return []cleanupStep{policyDocs[it.Kind].put(cfg, it, it.Prior, "the document it had")}
}
