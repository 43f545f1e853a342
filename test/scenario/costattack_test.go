package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keyleak/keyleak/test/world"
)

func TestCostAttack(t *testing.T) {
	w, run, gt := playWorld(t, CostAttack(), Options{})
	ctx := t.Context()
	checkConsistent(t, w, gt)

	count := map[string]int{}
	regions := map[string]bool{}
	for _, r := range gt.Resources {
		if !r.StillExists {
			t.Errorf("%s %s no longer exists", r.Type, r.ID)
		}
		count[r.Type]++
		if r.Region != "" {
			regions[r.Region] = true
		}
	}
	want := map[string]int{
		"AWS::EC2::Instance": costOnDemandN * len(CostRegions()), "AWS::EC2::SpotInstanceRequest": costSpotN * len(CostRegions()),
		"AWS::Lambda::Function": 2, "AWS::IAM::User": 1, "AWS::IAM::AccessKey": 1, "AWS::IAM::LoginProfile": 1,
		"AWS::IAM::UserPolicyAttachment": 1, "AWS::IAM::Role": 1, "AWS::IAM::RolePolicyAttachment": 1,
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("created resources = %v, want %v", count, want)
	}
	for _, region := range CostRegions() {
		if !regions[region] {
			t.Errorf("nothing created in %s", region)
		}
	}
	stopped := false
	for _, r := range w.Gateway.Events() {
		if r.EventName == "StopLogging" && r.UserIdentity.AccessKeyID == gt.LeakedKeyID && r.ErrorCode == "" {
			stopped = true
		}
	}
	if !stopped {
		t.Error("StopLogging by the leaked key is not in the gateway's events")
	}

	// Deleting the backdoor user's key shows in the next ground truth.
	admin := iam.NewFromConfig(w.Config("us-east-1", w.Admin(world.DefaultAccount)))
	backdoor := gt.Credentials[0]
	if _, err := admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String(CostBackdoorUser),
		AccessKeyId: aws.String(backdoor.AccessKeyID)}); err != nil {
		t.Fatalf("delete backdoor key: %v", err)
	}
	after, err := run.GroundTruth(ctx)
	if err != nil {
		t.Fatalf("ground truth after cleanup: %v", err)
	}
	for _, r := range after.Resources {
		if got, want := r.StillExists, r.Type != "AWS::IAM::AccessKey"; got != want {
			t.Errorf("after deleting the backdoor key: %s %s exists = %v, want %v", r.Type, r.ID, got, want)
		}
	}

	// Cost Explorer answers with the baseline and the spike of what was launched.
	spike := gt.Cost
	if spike == nil || spike.Extra <= 0 || len(spike.ByRegion) != len(CostRegions()) {
		t.Fatalf("cost spike = %+v, want extra cost in %v", spike, CostRegions())
	}
	out, err := costexplorer.NewFromConfig(w.Config("us-east-1", run.Target.Responder)).GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String("2026-01-01"), End: aws.String("2026-12-31")},
		Granularity: cetypes.GranularityDaily, Metrics: []string{spike.Metric},
		GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("SERVICE")},
			{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("REGION")}},
	})
	if err != nil {
		t.Fatalf("GetCostAndUsage: %v", err)
	}
	if got, want := len(out.ResultsByTime), spike.BaselineDays+1; got != want {
		t.Fatalf("days = %d, want %d", got, want)
	}
	var days []float64
	for _, day := range out.ResultsByTime {
		var total float64
		for _, g := range day.Groups {
			v, err := strconv.ParseFloat(aws.ToString(g.Metrics[spike.Metric].Amount), 64)
			if err != nil {
				t.Fatalf("amount of %v: %v", g.Keys, err)
			}
			total += v
		}
		days = append(days, round(total))
	}
	last := out.ResultsByTime[len(out.ResultsByTime)-1]
	if got, want := aws.ToString(last.TimePeriod.Start), spike.Day; got != want || !last.Estimated {
		t.Errorf("last day %s (estimated %v), want %s estimated", got, last.Estimated, want)
	}
	if got, want := days[len(days)-1], spike.DayTotal; got != want {
		t.Errorf("spike day total = %.2f, want %.2f", got, want)
	}
	if got, want := slices.Max(days[:len(days)-1]), spike.BaselineDaily; got != want {
		t.Errorf("highest baseline day = %.2f, want %.2f", got, want)
	}
}
