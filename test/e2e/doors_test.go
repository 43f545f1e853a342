package e2e

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	ecrtypes "github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/keyleak/keyleak/test/scenario"
	"github.com/keyleak/keyleak/test/world"
)

// TestDoorsEndToEnd: the techniques incident, through the real binary.
// verify names every door the attacker opened as still open, with the
// command that shuts it; plan lists the containment in order with its
// costs; plan request makes one batch, which its requester cannot approve
// and a second responder approves at once; every action runs and is
// recorded; the attacker's next attempts through its doors fail, verify
// says contained, and the legitimate workload goes on.
func TestDoorsEndToEnd(t *testing.T) {
	// The organisation is the two accounts: what admits the second is no door.
	h := Start(t, WithScenario("techniques"), WithEnv("KEYLEAK_AWS_ACCOUNTS="+world.SecondAccount))
	leaked := h.Run.Target.Leaked.AccessKeyID
	res, err := h.Slash(leaked+" found in a paste", nil)
	if err != nil || !strings.Contains(string(res.Body), "Opened KL-") {
		t.Fatalf("report: %v %+v", err, res)
	}
	id := OpenedID(t, res.Body)
	var d Detail
	Eventually(t, 3*time.Minute, "findings", func() (bool, string) {
		d, err = h.Incident(id)
		if err != nil {
			return false, err.Error()
		}
		return d.Incident.ChatSpace != "" && strings.Contains(messagesText(h, d.Incident.ChatSpace), "Findings"), fmt.Sprintf("%+v", d.Incident)
	})
	space := d.Incident.ChatSpace

	reply, err := h.Command(space, bob, "verify")
	text := fmt.Sprint(reply)
	if err != nil || !strings.Contains(text, "NOT CONTAINED") || !strings.Contains(text, "Still open") || !strings.Contains(text, "close-doors public-invoke") {
		t.Fatalf("verify before containment: %v\n%s", err, text)
	}
	for _, door := range []string{"close-doors billing-api", "close-doors arn:aws:sns:us-east-1:" + h.Run.Target.Account + ":billing-alerts",
		"close-doors customer-data", "close-doors deploy-role", "close-doors orders-db-nightly", "close-doors " + scenario.TechClusterSnapshot,
		"cleanup " + scenario.TechDirectoryUser, "cleanup analyst"} {
		if !strings.Contains(text, door) {
			t.Errorf("verify before containment does not name %q:\n%s", door, text)
		}
	}
	reply, err = h.Command(space, alice, "plan")
	text = fmt.Sprint(reply)
	steps := regexp.MustCompile(`\d+\. (deactivate|revoke-sessions|revoke-console|quarantine|close-doors|cleanup|delete-key)\b`).FindAllStringSubmatch(text, -1)
	var order []string
	for _, s := range steps {
		order = append(order, s[1])
	}
	if err != nil || strings.Join(order, ",") != "deactivate,revoke-sessions,revoke-console,quarantine,close-doors,cleanup,delete-key" {
		t.Fatalf("plan = %v (%v)\n%s", order, err, text)
	}
	t.Logf("plan:\n%s", text)
	if !strings.Contains(text, "calls; what it costs") {
		t.Errorf("the plan does not say what each step costs:\n%s", text)
	}

	reply, err = h.Command(space, alice, "plan request")
	text = fmt.Sprint(reply)
	batch := regexp.MustCompile(id + `-P\d+`).FindString(text)
	if err != nil || batch == "" || strings.Contains(text, "Not requested") {
		t.Fatalf("plan request: %v\n%s", err, text)
	}
	if reply, err := h.Command(space, alice, "approve-batch "+batch); err != nil || !strings.Contains(fmt.Sprint(reply), "0 of") {
		t.Errorf("the requester approving its own batch: %v %v", reply, err)
	}
	reply, err = h.Command(space, bob, "approve-batch "+batch)
	if err != nil || !strings.Contains(fmt.Sprint(reply), "approved") || strings.Contains(fmt.Sprint(reply), "Not approved") {
		t.Fatalf("approve-batch: %v %v", reply, err)
	}
	Eventually(t, 3*time.Minute, "the batch to finish", func() (bool, string) {
		cur, err := h.Incident(id)
		if err != nil {
			return false, err.Error()
		}
		var pending, failed []string
		for _, a := range cur.Actions {
			switch a.Status {
			case "succeeded":
			case "failed":
				failed = append(failed, a.ID+" "+a.Name)
			default:
				pending = append(pending, a.ID+" "+a.Name+" "+a.Status)
			}
		}
		if len(failed) > 0 {
			t.Fatalf("actions failed: %v\n%s", failed, messagesText(h, space))
		}
		return len(pending) == 0, strings.Join(pending, "; ")
	})

	// The attacker's next attempts through its doors, from its own account.
	acct := h.Run.Target.Account
	me := h.World.Config("us-east-1", h.World.Admin(world.AttackerAccount))
	attempts := map[string]error{}
	_, attempts["invoke the function"] = lambda.NewFromConfig(me).Invoke(t.Context(), &lambda.InvokeInput{
		FunctionName: aws.String("arn:aws:lambda:us-east-1:" + acct + ":function:billing-export")})
	_, attempts["read the bucket"] = s3.NewFromConfig(me, func(o *s3.Options) { o.UsePathStyle = true }).GetObject(t.Context(),
		&s3.GetObjectInput{Bucket: aws.String("customer-data"), Key: aws.String("public/pricing.json")})
	_, attempts["assume the role"] = sts.NewFromConfig(me).AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::" + acct + ":role/deploy-role"), RoleSessionName: aws.String("back")})
	_, attempts["pull the image"] = ecr.NewFromConfig(me).BatchGetImage(t.Context(), &ecr.BatchGetImageInput{RegistryId: aws.String(acct),
		RepositoryName: aws.String("billing-api"), ImageIds: []ecrtypes.ImageIdentifier{{ImageTag: aws.String("latest")}}})
	_, attempts["publish to the topic"] = sns.NewFromConfig(me).Publish(t.Context(), &sns.PublishInput{
		TopicArn: aws.String("arn:aws:sns:us-east-1:" + acct + ":billing-alerts"), Message: aws.String("x")})
	for what, err := range attempts {
		var ae smithy.APIError
		if !errors.As(err, &ae) || !strings.Contains(ae.ErrorCode(), "AccessDenied") && ae.ErrorCode() != "AuthorizationError" {
			t.Errorf("the attacker could still %s: %v", what, err)
		}
	}
	for key, code := range h.Run.Probe(t.Context(), time.Now()) {
		if code == "" {
			t.Errorf("the attacker's %s still works", key)
		}
	}
	reply, err = h.Command(space, bob, "verify")
	if err != nil || !strings.Contains(fmt.Sprint(reply), "Contained") {
		t.Errorf("verify after the plan: %v\n%v", err, reply)
	}
	// The organisation's own pull from the repository is as it was.
	repo, err := ecr.NewFromConfig(h.World.Config("us-east-1", h.World.Admin(acct))).GetRepositoryPolicy(t.Context(),
		&ecr.GetRepositoryPolicyInput{RepositoryName: aws.String("billing-api")})
	if err != nil || !strings.Contains(aws.ToString(repo.PolicyText), "org-pull") {
		t.Errorf("the repository's own statement after containment: %v %v", repo, err)
	}
	now := time.Now().Add(time.Second)
	if err := h.Run.Scenario.Legit(t.Context(), h.Run, now, now.Add(time.Hour)); err != nil {
		t.Errorf("the legitimate workload fails after containment: %v", err)
	}
}
