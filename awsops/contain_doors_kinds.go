package awsops

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// regional is a recorded configuration of the door's account and region.
func (r *containRun) regional(ctx context.Context, it DoorItem) (aws.Config, error) {
	cfg, err := r.config(ctx, it.Account)
	if err != nil {
		return aws.Config{}, err
	}
	if it.Region != "" {
		cfg.Region = it.Region
	}
	return cfg, nil
}

// doorClosing reads the door's current state and returns what closing it
// takes; no steps when it is shut.
func (r *containRun) doorClosing(ctx context.Context, it *DoorItem) (doorState, error) {
	if it.Account == "" {
		it.Account = r.t.Account
	}
	if it.EventID == "" {
		return doorState{}, refusal(ErrNoEvidence, "%s comes without evidence (no CloudTrail event shows who opened it); keyleak closes only what it can show the attacker opened", it)
	}
	cfg, err := r.regional(ctx, *it)
	if err != nil {
		return doorState{}, err
	}
	who := it.admitted()
	switch it.Kind {
	case DoorLambdaPermission:
		return lambdaPermissionClosing(ctx, lambda.NewFromConfig(cfg), *it)
	case DoorFunctionURL:
		return functionURLClosing(ctx, lambda.NewFromConfig(cfg), *it)
	case DoorSnapshotShare, DoorImageShare:
		return ec2ShareClosing(ctx, ec2.NewFromConfig(cfg), *it, who)
	case DoorDBSnapshotShare, DoorDBClusterShare:
		return dbShareClosing(ctx, rds.NewFromConfig(cfg), *it, who)
	case DoorIngressRule:
		return ingressClosing(ctx, ec2.NewFromConfig(cfg), *it)
	case DoorKMSGrant:
		return grantClosing(ctx, kms.NewFromConfig(cfg), *it)
	case DoorBucketPolicy, DoorKeyPolicy, DoorSecretPolicy, DoorRoleTrust, DoorRepositoryPolicy, DoorTopicPolicy, DoorQueuePolicy:
		return r.documentClosing(ctx, cfg, *it, who)
	case DoorBucketACL:
		return r.aclClosing(ctx, s3Client(cfg), *it)
	case DoorReplication:
		return replicationClosing(ctx, s3Client(cfg), *it)
	}
	return doorState{}, refusal(ErrUnknownResource, "keyleak cannot close %q doors (%s); close it by hand", it.Kind, it.ID)
}

func s3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
		}
	})
}

func lambdaPermissionClosing(ctx context.Context, client *lambda.Client, it DoorItem) (doorState, error) {
	out, err := client.GetPolicy(ctx, &lambda.GetPolicyInput{FunctionName: aws.String(it.On)})
	if goneAlready(err) {
		return doorState{}, nil
	}
	if err != nil {
		return doorState{}, fmt.Errorf("policy of %s (lambda:GetPolicy): %w", it.On, err)
	}
	_, stmts, _ := policyParts(aws.ToString(out.Policy))
	for _, s := range stmts {
		m, _ := s.(map[string]any)
		if m["Sid"] != it.ID {
			continue
		}
		prior, _ := json.Marshal(m)
		return doorState{prior: string(prior), steps: []cleanupStep{{
			call: fmt.Sprintf("lambda:RemovePermission %s StatementId=%s", it.On, it.ID),
			run: func(ctx context.Context) error {
				_, err := client.RemovePermission(ctx, &lambda.RemovePermissionInput{FunctionName: aws.String(it.On), StatementId: aws.String(it.ID)})
				return err
			}}}}, nil
	}
	return doorState{}, nil
}

func functionURLClosing(ctx context.Context, client *lambda.Client, it DoorItem) (doorState, error) {
	out, err := client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String(it.ID)})
	if goneAlready(err) {
		return doorState{}, nil
	}
	if err != nil {
		return doorState{}, fmt.Errorf("URL of %s (lambda:GetFunctionUrlConfig): %w", it.ID, err)
	}
	if out.AuthType != lambdatypes.FunctionUrlAuthTypeNone {
		return doorState{}, nil // it asks for IAM signatures now
	}
	prior, _ := json.Marshal(map[string]any{"AuthType": out.AuthType, "InvokeMode": out.InvokeMode, "Cors": out.Cors, "Url": aws.ToString(out.FunctionUrl)})
	return doorState{prior: string(prior), note: " Anyone on the internet could call " + aws.ToString(out.FunctionUrl) + "; it is deleted.",
		steps: []cleanupStep{{call: "lambda:DeleteFunctionUrlConfig " + it.ID, run: func(ctx context.Context) error {
			_, err := client.DeleteFunctionUrlConfig(ctx, &lambda.DeleteFunctionUrlConfigInput{FunctionName: aws.String(it.ID)})
			return err
		}}}}, nil
}

// ec2ShareClosing removes exactly the accounts (or all) the attacker
// added to a snapshot's or image's permissions.
func ec2ShareClosing(ctx context.Context, client *ec2.Client, it DoorItem, who []string) (doorState, error) {
	var current []string
	if it.Kind == DoorSnapshotShare {
		out, err := client.DescribeSnapshotAttribute(ctx, &ec2.DescribeSnapshotAttributeInput{SnapshotId: aws.String(it.ID), Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission})
		if isAPIError(err, "InvalidSnapshot.NotFound") {
			return doorState{}, nil
		}
		if err != nil {
			return doorState{}, fmt.Errorf("permissions of %s (ec2:DescribeSnapshotAttribute): %w", it.ID, err)
		}
		for _, p := range out.CreateVolumePermissions {
			current = append(current, cmpOrGroup(aws.ToString(p.UserId), string(p.Group)))
		}
	} else {
		out, err := client.DescribeImageAttribute(ctx, &ec2.DescribeImageAttributeInput{ImageId: aws.String(it.ID), Attribute: ec2types.ImageAttributeNameLaunchPermission})
		if isAPIError(err, "InvalidAMIID.NotFound", "InvalidAMIID.Unavailable") {
			return doorState{}, nil
		}
		if err != nil {
			return doorState{}, fmt.Errorf("permissions of %s (ec2:DescribeImageAttribute): %w", it.ID, err)
		}
		for _, p := range out.LaunchPermissions {
			current = append(current, cmpOrGroup(aws.ToString(p.UserId), string(p.Group)))
		}
	}
	remove := present(who, current)
	if len(remove) == 0 {
		return doorState{}, nil
	}
	prior, _ := json.Marshal(remove)
	return doorState{prior: string(prior), steps: []cleanupStep{ec2ShareStep(client, it, remove, "Remove")}}, nil
}

func cmpOrGroup(user, group string) string {
	if user != "" {
		return user
	}
	return group
}

// present is who, of those in current.
func present(who, current []string) []string {
	var out []string
	for _, w := range who {
		if slices.ContainsFunc(current, func(c string) bool { return strings.EqualFold(c, w) }) {
			out = append(out, w)
		}
	}
	return out
}

// ec2ShareStep adds or removes accounts (or "all") from a snapshot's or
// image's permissions.
func ec2ShareStep(client *ec2.Client, it DoorItem, who []string, verb string) cleanupStep {
	attr := "CreateVolumePermission"
	if it.Kind == DoorImageShare {
		attr = "LaunchPermission"
	}
	return cleanupStep{call: fmt.Sprintf("ec2:Modify%sAttribute %s %s.%s=%s", map[bool]string{true: "Snapshot", false: "Image"}[it.Kind == DoorSnapshotShare],
		it.ID, attr, verb, strings.Join(who, ",")),
		run: func(ctx context.Context) error {
			if it.Kind == DoorSnapshotShare {
				var perms []ec2types.CreateVolumePermission
				for _, w := range who {
					if strings.EqualFold(w, "all") {
						perms = append(perms, ec2types.CreateVolumePermission{Group: ec2types.PermissionGroupAll})
					} else {
						perms = append(perms, ec2types.CreateVolumePermission{UserId: aws.String(w)})
					}
				}
				mods := &ec2types.CreateVolumePermissionModifications{}
				if verb == "Remove" {
					mods.Remove = perms
				} else {
					mods.Add = perms
				}
				_, err := client.ModifySnapshotAttribute(ctx, &ec2.ModifySnapshotAttributeInput{SnapshotId: aws.String(it.ID),
					Attribute: ec2types.SnapshotAttributeNameCreateVolumePermission, CreateVolumePermission: mods})
				return err
			}
			var perms []ec2types.LaunchPermission
			for _, w := range who {
				if strings.EqualFold(w, "all") {
					perms = append(perms, ec2types.LaunchPermission{Group: ec2types.PermissionGroupAll})
				} else {
					perms = append(perms, ec2types.LaunchPermission{UserId: aws.String(w)})
				}
			}
			mods := &ec2types.LaunchPermissionModifications{}
			if verb == "Remove" {
				mods.Remove = perms
			} else {
				mods.Add = perms
			}
			_, err := client.ModifyImageAttribute(ctx, &ec2.ModifyImageAttributeInput{ImageId: aws.String(it.ID), LaunchPermission: mods})
			return err
		}}
}

func dbShareClosing(ctx context.Context, client *rds.Client, it DoorItem, who []string) (doorState, error) {
	current, err := restoreAccounts(ctx, client, it.Kind == DoorDBClusterShare, it.ID)
	if err != nil {
		return doorState{}, err
	}
	remove := present(who, current)
	if len(remove) == 0 {
		return doorState{}, nil
	}
	prior, _ := json.Marshal(remove)
	return doorState{prior: string(prior), steps: []cleanupStep{dbShareStep(client, it, remove, "Remove")}}, nil
}

func dbShareStep(client *rds.Client, it DoorItem, who []string, verb string) cleanupStep {
	op := "ModifyDBSnapshotAttribute"
	if it.Kind == DoorDBClusterShare {
		op = "ModifyDBClusterSnapshotAttribute"
	}
	return cleanupStep{call: fmt.Sprintf("rds:%s %s AttributeName=restore ValuesTo%s=%s", op, it.ID, verb, strings.Join(who, ",")),
		run: func(ctx context.Context) error {
			var add, remove []string
			if verb == "Remove" {
				remove = who
			} else {
				add = who
			}
			if it.Kind == DoorDBClusterShare {
				_, err := client.ModifyDBClusterSnapshotAttribute(ctx, &rds.ModifyDBClusterSnapshotAttributeInput{DBClusterSnapshotIdentifier: aws.String(it.ID),
					AttributeName: aws.String("restore"), ValuesToAdd: add, ValuesToRemove: remove})
				return err
			}
			_, err := client.ModifyDBSnapshotAttribute(ctx, &rds.ModifyDBSnapshotAttributeInput{DBSnapshotIdentifier: aws.String(it.ID),
				AttributeName: aws.String("restore"), ValuesToAdd: add, ValuesToRemove: remove})
			return err
		}}
}

// ingressRule is what reopen needs of a security group rule.
type ingressRule struct {
	Protocol    string `json:"protocol"`
	From, To    int32
	CIDR, CIDR6 string `json:",omitempty"`
	Description string `json:",omitempty"`
}

func ingressClosing(ctx context.Context, client *ec2.Client, it DoorItem) (doorState, error) {
	if it.ID == "" {
		return doorState{}, refusal(ErrUnknownResource, "the event that opened %s does not name the rule; revoke it by hand", it.On)
	}
	out, err := client.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{it.ID}})
	if isAPIError(err, "InvalidSecurityGroupRuleId.NotFound", "InvalidGroup.NotFound") {
		return doorState{}, nil
	}
	if err != nil {
		return doorState{}, fmt.Errorf("rule %s (ec2:DescribeSecurityGroupRules): %w", it.ID, err)
	}
	if len(out.SecurityGroupRules) == 0 {
		return doorState{}, nil
	}
	rule := out.SecurityGroupRules[0]
	group := aws.ToString(rule.GroupId)
	prior, _ := json.Marshal(ingressRule{Protocol: aws.ToString(rule.IpProtocol), From: aws.ToInt32(rule.FromPort), To: aws.ToInt32(rule.ToPort),
		CIDR: aws.ToString(rule.CidrIpv4), CIDR6: aws.ToString(rule.CidrIpv6), Description: aws.ToString(rule.Description)})
	return doorState{prior: string(prior), steps: []cleanupStep{{
		call: fmt.Sprintf("ec2:RevokeSecurityGroupIngress %s SecurityGroupRuleIds=%s", group, it.ID),
		run: func(ctx context.Context) error {
			_, err := client.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(group), SecurityGroupRuleIds: []string{it.ID}})
			return err
		}}}}, nil
}

// kmsGrant is what reopen needs of a grant.
type kmsGrant struct {
	Grantee, Retiring, Name string
	Operations              []string
	// Constraints are the encryption context the grant requires: without
	// them a grant put back would allow any. Always recorded (null for
	// none): a close recorded without the member kept no constraints.
	Constraints *kmstypes.GrantConstraints
}

func grantClosing(ctx context.Context, client *kms.Client, it DoorItem) (doorState, error) {
	out, err := client.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(it.On), GrantId: aws.String(it.ID)})
	if isAPIError(err, "NotFoundException") {
		return doorState{}, nil
	}
	if err != nil {
		return doorState{}, fmt.Errorf("grant %s of %s (kms:ListGrants): %w", it.ID, it.On, err)
	}
	i := slices.IndexFunc(out.Grants, func(g kmstypes.GrantListEntry) bool { return aws.ToString(g.GrantId) == it.ID })
	if i < 0 {
		return doorState{}, nil
	}
	g := out.Grants[i]
	ops := make([]string, 0, len(g.Operations))
	for _, o := range g.Operations {
		ops = append(ops, string(o))
	}
	prior, _ := json.Marshal(kmsGrant{Grantee: aws.ToString(g.GranteePrincipal), Retiring: aws.ToString(g.RetiringPrincipal), Name: aws.ToString(g.Name), Operations: ops,
		Constraints: g.Constraints})
	return doorState{prior: string(prior), steps: []cleanupStep{{
		call: fmt.Sprintf("kms:RevokeGrant KeyId=%s GrantId=%s", it.On, it.ID),
		run: func(ctx context.Context) error {
			_, err := client.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(it.On), GrantId: aws.String(it.ID)})
			return err
		}}}}, nil
}

func mustNormal(doc string) string {
	n, err := normalPolicy(doc)
	if err != nil {
		return doc
	}
	return n
}

// doorReopening returns what puts a closed door back as it was; none when
// it is as it was.
func (r *containRun) doorReopening(ctx context.Context, it DoorItem) ([]cleanupStep, error) {
	cfg, err := r.regional(ctx, it)
	if err != nil {
		return nil, err
	}
	switch it.Kind {
	case DoorSnapshotShare, DoorImageShare, DoorDBSnapshotShare, DoorDBClusterShare:
		var who []string
		if err := json.Unmarshal([]byte(it.Prior), &who); err != nil || len(who) == 0 {
			return nil, fmt.Errorf("the close recorded no share to put back")
		}
		if it.Kind == DoorSnapshotShare || it.Kind == DoorImageShare {
			client := ec2.NewFromConfig(cfg)
			st, err := ec2ShareClosing(ctx, client, it, who)
			if err != nil || st.prior == it.Prior {
				return nil, err // shared as before
			}
			return []cleanupStep{ec2ShareStep(client, it, who, "Add")}, nil
		}
		client := rds.NewFromConfig(cfg)
		st, err := dbShareClosing(ctx, client, it, who)
		if err != nil || st.prior == it.Prior {
			return nil, err
		}
		return []cleanupStep{dbShareStep(client, it, who, "Add")}, nil
	case DoorLambdaPermission:
		client := lambda.NewFromConfig(cfg)
		if st, err := lambdaPermissionClosing(ctx, client, it); err != nil || len(st.steps) > 0 {
			return nil, err
		}
		in, err := permissionInput(it)
		if err != nil {
			return nil, err
		}
		return []cleanupStep{{call: fmt.Sprintf("lambda:AddPermission %s StatementId=%s Principal=%s", it.On, it.ID, aws.ToString(in.Principal)),
			run: func(ctx context.Context) error { _, err := client.AddPermission(ctx, in); return err }}}, nil
	case DoorFunctionURL:
		client := lambda.NewFromConfig(cfg)
		if st, err := functionURLClosing(ctx, client, it); err != nil || len(st.steps) > 0 {
			return nil, err
		}
		var prior struct {
			InvokeMode lambdatypes.InvokeMode
			Cors       *lambdatypes.Cors
		}
		_ = json.Unmarshal([]byte(it.Prior), &prior)
		return []cleanupStep{{call: "lambda:CreateFunctionUrlConfig " + it.ID + " AuthType=NONE (a new URL)", run: func(ctx context.Context) error {
			_, err := client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{FunctionName: aws.String(it.ID),
				AuthType: lambdatypes.FunctionUrlAuthTypeNone, InvokeMode: prior.InvokeMode, Cors: prior.Cors})
			return err
		}}}, nil
	case DoorIngressRule:
		var rule ingressRule
		if err := json.Unmarshal([]byte(it.Prior), &rule); err != nil {
			return nil, fmt.Errorf("the close recorded no rule to put back")
		}
		client := ec2.NewFromConfig(cfg)
		rules, err := client.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{it.On}}}})
		if err != nil {
			return nil, fmt.Errorf("rules of %s (ec2:DescribeSecurityGroupRules): %w", it.On, err)
		}
		if slices.ContainsFunc(rules.SecurityGroupRules, func(x ec2types.SecurityGroupRule) bool {
			return !aws.ToBool(x.IsEgress) && aws.ToString(x.IpProtocol) == rule.Protocol && aws.ToInt32(x.FromPort) == rule.From &&
				aws.ToInt32(x.ToPort) == rule.To && aws.ToString(x.CidrIpv4) == rule.CIDR && aws.ToString(x.CidrIpv6) == rule.CIDR6
		}) {
			return nil, nil // the rule is back
		}
		perm := ec2types.IpPermission{IpProtocol: aws.String(rule.Protocol), FromPort: aws.Int32(rule.From), ToPort: aws.Int32(rule.To)}
		if rule.CIDR != "" {
			perm.IpRanges = []ec2types.IpRange{{CidrIp: aws.String(rule.CIDR), Description: nilIfEmpty(rule.Description)}}
		}
		if rule.CIDR6 != "" {
			perm.Ipv6Ranges = []ec2types.Ipv6Range{{CidrIpv6: aws.String(rule.CIDR6), Description: nilIfEmpty(rule.Description)}}
		}
		return []cleanupStep{{call: fmt.Sprintf("ec2:AuthorizeSecurityGroupIngress %s %s %d-%d from %s%s (a new rule ID)", it.On, rule.Protocol, rule.From, rule.To, rule.CIDR, rule.CIDR6),
			run: func(ctx context.Context) error {
				_, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(it.On), IpPermissions: []ec2types.IpPermission{perm}})
				return err
			}}}, nil
	case DoorKMSGrant:
		var g kmsGrant
		var members map[string]json.RawMessage
		if err := json.Unmarshal([]byte(it.Prior), &g); err != nil || json.Unmarshal([]byte(it.Prior), &members) != nil {
			return nil, fmt.Errorf("the close recorded no grant to put back")
		}
		if _, ok := members["Constraints"]; !ok {
			return nil, fmt.Errorf("the close recorded the grant without its constraints (an earlier keyleak): put it back by hand with kms:CreateGrant, from the close request's record and CloudTrail's CreateGrant event %s", it.EventID)
		}
		client := kms.NewFromConfig(cfg)
		ops := make([]kmstypes.GrantOperation, 0, len(g.Operations))
		for _, o := range g.Operations {
			ops = append(ops, kmstypes.GrantOperation(o))
		}
		grants, err := client.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(it.On)})
		if err != nil {
			return nil, fmt.Errorf("grants of %s (kms:ListGrants): %w", it.On, err)
		}
		if slices.ContainsFunc(grants.Grants, func(x kmstypes.GrantListEntry) bool {
			return aws.ToString(x.GranteePrincipal) == g.Grantee && slices.Equal(sortedOps(x.Operations), sortedOps(ops)) &&
				sameConstraints(x.Constraints, g.Constraints)
		}) {
			return nil, nil // the grant is back
		}
		call := fmt.Sprintf("kms:CreateGrant KeyId=%s GranteePrincipal=%s Operations=%s", it.On, g.Grantee, strings.Join(g.Operations, ","))
		if c := constraintsText(g.Constraints); c != "" {
			call += " Constraints=" + c
		}
		return []cleanupStep{{call: call + " (a new grant ID)",
			run: func(ctx context.Context) error {
				_, err := client.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(it.On), GranteePrincipal: aws.String(g.Grantee),
					RetiringPrincipal: nilIfEmpty(g.Retiring), Name: nilIfEmpty(g.Name), Operations: ops, Constraints: g.Constraints})
				return err
			}}}, nil
	case DoorReplication:
		return replicationReopening(ctx, s3Client(cfg), it)
	case DoorBucketACL:
		var grants []s3types.Grant
		if err := json.Unmarshal([]byte(it.Prior), &grants); err != nil {
			return nil, fmt.Errorf("the close recorded no ACL to put back")
		}
		client := s3Client(cfg)
		out, err := client.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String(it.ID)})
		if err != nil {
			return nil, fmt.Errorf("ACL of %s (s3:GetBucketAcl): %w", it.ID, err)
		}
		if now, _ := json.Marshal(out.Grants); string(now) == it.Prior {
			return nil, nil // the ACL is as it was
		}
		return []cleanupStep{{call: fmt.Sprintf("s3:PutBucketAcl %s (the %d grants it had)", it.ID, len(grants)),
			run: func(ctx context.Context) error {
				_, err := client.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String(it.ID),
					AccessControlPolicy: &s3types.AccessControlPolicy{Owner: out.Owner, Grants: grants}})
				return err
			}}}, nil
	case DoorBucketPolicy, DoorKeyPolicy, DoorSecretPolicy, DoorRoleTrust, DoorRepositoryPolicy, DoorTopicPolicy, DoorQueuePolicy:
		current, err := r.currentDocument(ctx, cfg, it)
		if err != nil {
			return nil, err
		}
		if mustNormal(current) == it.Prior {
			return nil, nil
		}
		if (current != "" || statementCount(it.After) > 0) && mustNormal(current) != it.After {
			return nil, fmt.Errorf("%w: its document is no longer the one close wrote; put it back by hand from the close request's record", ErrPolicyChanged)
		}
		return documentPut(cfg, it), nil
	}
	return nil, refusal(ErrUnknownResource, "keyleak cannot reopen %q doors", it.Kind)
}

// sameConstraints reports whether two grants require the same encryption
// context (none is none, however written).
func sameConstraints(a, b *kmstypes.GrantConstraints) bool {
	var none kmstypes.GrantConstraints
	if a == nil {
		a = &none
	}
	if b == nil {
		b = &none
	}
	return maps.Equal(a.EncryptionContextEquals, b.EncryptionContextEquals) && maps.Equal(a.EncryptionContextSubset, b.EncryptionContextSubset) &&
		aws.ToString(a.SourceArn) == aws.ToString(b.SourceArn)
}

// constraintsText is what a grant requires, as a plan shows it:
// "EncryptionContextSubset={tenant=acme}"; "" for nothing.
func constraintsText(c *kmstypes.GrantConstraints) string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, m := range []struct {
		name string
		ctx  map[string]string
	}{{"EncryptionContextEquals", c.EncryptionContextEquals}, {"EncryptionContextSubset", c.EncryptionContextSubset}} {
		if len(m.ctx) == 0 {
			continue
		}
		b, _ := json.Marshal(m.ctx) // keys sorted, values quoted: what the attacker named reads as it is
		parts = append(parts, m.name+"="+string(b))
	}
	if c.SourceArn != nil {
		parts = append(parts, "SourceArn="+aws.ToString(c.SourceArn))
	}
	return strings.Join(parts, ",")
}

func sortedOps(ops []kmstypes.GrantOperation) []kmstypes.GrantOperation {
	out := slices.Clone(ops)
	slices.Sort(out)
	return out
}

func nilIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// permissionInput turns a recorded function policy statement back into
// the AddPermission that makes it.
func permissionInput(it DoorItem) (*lambda.AddPermissionInput, error) {
	var st map[string]any
	if err := json.Unmarshal([]byte(it.Prior), &st); err != nil {
		return nil, fmt.Errorf("the close recorded no statement to put back")
	}
	byHand := func(what string, v any) error {
		return fmt.Errorf("the statement's %s (%v) is not one AddPermission makes: put it back by hand from the close request's record", what, v)
	}
	in := &lambda.AddPermissionInput{FunctionName: aws.String(it.On), StatementId: aws.String(it.ID)}
	action, ok := st["Action"].(string)
	if !ok {
		return nil, byHand("action", st["Action"])
	}
	in.Action = aws.String(action)
	switch p := st["Principal"].(type) {
	case string:
		in.Principal = aws.String(p)
	case map[string]any:
		if len(p) != 1 {
			return nil, byHand("principal", p)
		}
		for k, v := range p {
			if vs := anyStrings(v); len(vs) == 1 && (k == "AWS" || k == "Service") {
				in.Principal = aws.String(vs[0])
			}
		}
	}
	if in.Principal == nil {
		return nil, byHand("principal", st["Principal"])
	}
	// A version's or alias's permission: the statement's resource is the
	// function's ARN with it, and so is the policy it goes back in.
	if res, ok := st["Resource"].(string); ok {
		if parts := strings.Split(res, ":"); len(parts) == 8 && parts[5] == "function" {
			in.FunctionName = aws.String(qualifiedFunction(it.On, parts[7]))
		}
	}
	cond, _ := st["Condition"].(map[string]any)
	if st["Condition"] != nil && cond == nil {
		return nil, byHand("condition", st["Condition"])
	}
	for op, v := range cond {
		m, _ := v.(map[string]any)
		if m == nil {
			return nil, byHand("condition", v)
		}
		for k, val := range m {
			vs := anyStrings(val)
			if len(vs) != 1 {
				return nil, byHand("condition "+k, val)
			}
			s := vs[0]
			switch strings.ToLower(op) + " " + strings.ToLower(k) {
			case "arnlike aws:sourcearn":
				in.SourceArn = aws.String(s)
			case "stringequals aws:sourceaccount":
				in.SourceAccount = aws.String(s)
			case "stringequals aws:principalorgid":
				in.PrincipalOrgID = aws.String(s)
			case "stringequals lambda:eventsourcetoken":
				in.EventSourceToken = aws.String(s)
			case "stringequals lambda:functionurlauthtype":
				in.FunctionUrlAuthType = lambdatypes.FunctionUrlAuthType(s)
			case "bool lambda:invokedviafunctionurl":
				if !strings.EqualFold(s, "true") {
					return nil, byHand("condition "+op+" "+k, s) // "not through the URL" is not a permission AddPermission makes
				}
				in.InvokedViaFunctionUrl = aws.Bool(true)
			default:
				return nil, byHand("condition "+op+" "+k, s)
			}
		}
	}
	return in, nil
}

// restoreAccounts is who may restore a DB snapshot or a DB cluster
// snapshot (its "restore" attribute: account IDs or "all"); none when the
// snapshot is gone.
func restoreAccounts(ctx context.Context, client *rds.Client, cluster bool, id string) ([]string, error) {
	var current []string
	if !cluster {
		out, err := client.DescribeDBSnapshotAttributes(ctx, &rds.DescribeDBSnapshotAttributesInput{DBSnapshotIdentifier: aws.String(id)})
		if isAPIError(err, "DBSnapshotNotFound", "DBSnapshotNotFoundFault") {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("attributes of %s (rds:DescribeDBSnapshotAttributes): %w", id, err)
		}
		if res := out.DBSnapshotAttributesResult; res != nil {
			for _, a := range res.DBSnapshotAttributes {
				if strings.EqualFold(aws.ToString(a.AttributeName), "restore") {
					current = append(current, a.AttributeValues...)
				}
			}
		}
		return current, nil
	}
	out, err := client.DescribeDBClusterSnapshotAttributes(ctx, &rds.DescribeDBClusterSnapshotAttributesInput{DBClusterSnapshotIdentifier: aws.String(id)})
	if isAPIError(err, "DBClusterSnapshotNotFoundFault") {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("attributes of %s (rds:DescribeDBClusterSnapshotAttributes): %w", id, err)
	}
	if res := out.DBClusterSnapshotAttributesResult; res != nil {
		for _, a := range res.DBClusterSnapshotAttributes {
			if strings.EqualFold(aws.ToString(a.AttributeName), "restore") {
				current = append(current, a.AttributeValues...)
			}
		}
	}
	return current, nil
}
