package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v4"
	"gopkg.in/yaml.v3"

	"github.com/keyleak/keyleak/intake"
	"github.com/keyleak/keyleak/test/world"
)

// cfnResources reads a template's resources as plain data (intrinsic
// tags such as !GetAtt read as their argument), after goformation has
// checked every resource's properties as CloudFormation does.
func cfnResources(t *testing.T, file string) map[string]map[string]any {
	t.Helper()
	data := readRepoFile(t, file)
	if _, err := goformation.ParseYAML(data); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	var tpl struct {
		Resources map[string]map[string]any `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &tpl); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return tpl.Resources
}

func props(r map[string]any) map[string]any { p, _ := r["Properties"].(map[string]any); return p }

// TestIntakeTemplate: the queue redrives to its dead-letter queue; only
// keyleak's rules may send to it, and each of them does; a rule exists
// for every kind of event keyleak reads; the world's rules are the
// template's.
func TestIntakeTemplate(t *testing.T) {
	res := cfnResources(t, "deploy/aws/intake.yaml")
	queue := props(res["IntakeQueue"])
	redrive, _ := queue["RedrivePolicy"].(map[string]any)
	if redrive["deadLetterTargetArn"] != "DeadLetterQueue.Arn" || queue["QueueName"] != "keyleak-intake" {
		t.Errorf("the intake queue = %v, want keyleak-intake redriving to DeadLetterQueue", queue)
	}
	var targeting, names, detailTypes []string
	for id, r := range res {
		if r["Type"] != "AWS::Events::Rule" {
			continue
		}
		p := props(r)
		names = append(names, fmt.Sprint(p["Name"]))
		for _, tg := range p["Targets"].([]any) {
			if tg.(map[string]any)["Arn"] == "IntakeQueue.Arn" {
				targeting = append(targeting, id+".Arn")
			}
		}
		pattern := fmt.Sprint(p["EventPattern"])
		for _, dt := range []string{"GuardDuty Finding", "AWS Health Event", intake.CustomDetailType, "AWS API Call via CloudTrail"} {
			if strings.Contains(pattern, dt) {
				detailTypes = append(detailTypes, dt)
			}
		}
	}
	policy := props(res["IntakeQueuePolicy"])["PolicyDocument"].(map[string]any)["Statement"].([]any)
	if len(policy) != 1 {
		t.Fatalf("queue policy statements = %v, want one", policy)
	}
	cond := policy[0].(map[string]any)["Condition"].(map[string]any)["ArnEquals"].(map[string]any)["aws:SourceArn"].([]any)
	var admitted []string
	for _, a := range cond {
		admitted = append(admitted, fmt.Sprint(a))
	}
	slices.Sort(admitted)
	slices.Sort(targeting)
	if !slices.Equal(admitted, targeting) {
		t.Errorf("the queue admits %v, but the rules sending to it are %v", admitted, targeting)
	}
	for _, dt := range []string{"GuardDuty Finding", "AWS Health Event", intake.CustomDetailType, "AWS API Call via CloudTrail"} {
		if !slices.Contains(detailTypes, dt) {
			t.Errorf("no rule sends %q events", dt)
		}
	}
	for name := range world.IntakeRules {
		if !slices.Contains(names, name) {
			t.Errorf("the world's rule %s is not in intake.yaml (%v)", name, names)
		}
	}
}

// TestIntakeForwarder: every forwarding rule targets the central bus
// through a role that may only put events there.
func TestIntakeForwarder(t *testing.T) {
	res := cfnResources(t, "deploy/aws/intake-forwarder.yaml")
	rules := 0
	for id, r := range res {
		switch r["Type"] {
		case "AWS::Events::Rule":
			rules++
			for _, tg := range props(r)["Targets"].([]any) {
				m := tg.(map[string]any)
				if m["Arn"] != "EventBusArn" || m["RoleArn"] != "ForwardRole.Arn" {
					t.Errorf("%s targets %v, want the central bus through ForwardRole", id, m)
				}
			}
		case "AWS::IAM::Role":
			pols := props(r)["Policies"].([]any)
			doc := fmt.Sprint(pols)
			if len(pols) != 1 || !strings.Contains(doc, "Action:events:PutEvents") || !strings.Contains(doc, "Resource:EventBusArn") || strings.Contains(doc, "*") {
				t.Errorf("%s may do more than put events on the central bus: %s", id, doc)
			}
		}
	}
	if rules != 2 {
		t.Errorf("%d forwarding rules, want the detectors' and the canaries'", rules)
	}
}
