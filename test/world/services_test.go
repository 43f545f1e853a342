package world

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestServicesThroughGateway(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	seed := json.RawMessage(`{"ResultsByTime":[{"TimePeriod":{"Start":"2026-11-01","End":"2026-11-02"},` +
		`"Total":{"UnblendedCost":{"Amount":"4312.50","Unit":"USD"}},"Estimated":true}]}`)
	if err := w.Moto.SeedCostAndUsage(ctx, DefaultAccount, []json.RawMessage{seed}); err != nil {
		t.Fatalf("seed cost and usage: %v", err)
	}
	cfg := w.Config("us-east-1", w.Admin(DefaultAccount))
	ce, err := costexplorer.NewFromConfig(cfg).GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String("2026-11-01"), End: aws.String("2026-11-02")},
		Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"},
	})
	if err != nil {
		t.Fatalf("GetCostAndUsage: %v", err)
	}
	if got, want := *ce.ResultsByTime[0].Total["UnblendedCost"].Amount, "4312.50"; got != want {
		t.Fatalf("cost = %s, want %s", got, want)
	}
	if _, err := lambda.NewFromConfig(cfg).ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("ListFunctions: %v", err)
	}
	want := map[string]string{"GetCostAndUsage": "ce.amazonaws.com", "ListFunctions20150331": "lambda.amazonaws.com"}
	for _, r := range w.Gateway.Events() {
		if src, ok := want[r.EventName]; ok && r.EventSource == src && r.ErrorCode == "" {
			delete(want, r.EventName)
		}
	}
	if len(want) > 0 {
		t.Fatalf("events not recorded: %v", want)
	}
}

func TestAssumeRoleRefusals(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	user := newUser(t, w, DefaultAccount, "ci-deploy-user")
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(DefaultAccount)))
	short, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("short"), AssumeRolePolicyDocument: aws.String(trustAnyone)})
	if err != nil {
		t.Fatalf("create role: %v", err)
	}
	long := newRole(t, w, DefaultAccount, "long") // MaxSessionDuration 12 h
	chained := assumeRole(t, w, user, long, "first", time.Now(), 3600)
	tests := []struct {
		name    string
		creds   Credentials
		roleARN string
		seconds int32
		want    string
	}{
		{"missing role", user, "arn:aws:iam::123456789012:role/missing", 900, "AccessDenied"},
		{"above MaxSessionDuration", user, *short.Role.Arn, 7200, "ValidationError"},
		{"within MaxSessionDuration", user, long, 43200, ""},
		{"role chaining above an hour", chained, long, 7200, "ValidationError"},
		{"role chaining within an hour", chained, long, 3600, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sts.NewFromConfig(w.Config("us-east-1", tt.creds)).AssumeRole(ctx, &sts.AssumeRoleInput{
				RoleArn: aws.String(tt.roleARN), RoleSessionName: aws.String("s"), DurationSeconds: aws.Int32(tt.seconds),
			})
			if got := apiCode(err); got != tt.want {
				t.Fatalf("error code = %q, want %q (err %v)", got, tt.want, err)
			}
		})
	}
}
