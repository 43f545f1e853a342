package world

import (
	"strconv"
	"strings"
)

// sensitiveDataRemoved is what CloudTrail writes in place of EC2 values it does not record.
const sensitiveDataRemoved = "<sensitiveDataRemoved>"

// shapeParams gives the requestParameters of the calls that create what an attacker
// leaves behind CloudTrail's shape (EC2 "…Set": {"items": […]} lists, numbers and
// booleans as JSON values) and drops what CloudTrail does not record: passwords, user
// data, function code and environment variables. Other calls keep the flat form.
func shapeParams(op *operation) {
	if op.Params == nil || shapeOpenings(op) {
		return
	}
	switch op.Service + ":" + op.Name {
	case "ec2:RunInstances":
		shapeRunInstances(op.Params)
	case "ec2:RequestSpotInstances":
		shapeRequestSpotInstances(op.Params)
	case "iam:CreateLoginProfile", "iam:UpdateLoginProfile":
		delete(op.Params, "password")
		boolParam(op.Params, "passwordResetRequired")
	case "iam:ChangePassword":
		delete(op.Params, "oldPassword")
		delete(op.Params, "newPassword")
	case "lambda:CreateFunction20150331":
		shapeCreateFunction(op.Params)
	}
}

// shapeRunInstances: instancesSet.items[{imageId, minCount, maxCount, keyName}],
// groupSet.items[{groupId}], instanceType at the top, userData removed.
func shapeRunInstances(p map[string]any) {
	item := map[string]any{}
	for _, k := range []string{"imageId", "minCount", "maxCount", "keyName"} {
		if v, ok := p[k]; ok {
			item[k] = v
			delete(p, k)
		}
	}
	intParam(item, "minCount")
	intParam(item, "maxCount")
	p["instancesSet"] = map[string]any{"items": []any{item}}
	if groups := indexedItems(p, "securityGroupId", "groupId"); len(groups) > 0 {
		p["groupSet"] = map[string]any{"items": groups}
	}
	if _, ok := p["userData"]; ok {
		p["userData"] = sensitiveDataRemoved
	}
	boolParam(p, "disableApiTermination")
	boolParam(p, "ebsOptimized")
}

// shapeRequestSpotInstances nests LaunchSpecification.* into launchSpecification.
func shapeRequestSpotInstances(p map[string]any) {
	spec := map[string]any{}
	const prefix = "launchSpecification."
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, prefix); ok && rest != "" {
			spec[lowerFirst(rest)] = v
			delete(p, k)
		}
	}
	if len(spec) > 0 {
		if groups := indexedItems(spec, "securityGroupId", "groupId"); len(groups) > 0 {
			spec["groupSet"] = map[string]any{"items": groups}
		}
		if _, ok := spec["userData"]; ok {
			spec["userData"] = sensitiveDataRemoved
		}
		p["launchSpecification"] = spec
	}
	intParam(p, "instanceCount")
}

// shapeCreateFunction records the code's location but not the code, and the
// environment without its variables.
func shapeCreateFunction(p map[string]any) {
	for k, v := range p {
		switch k {
		case "code":
			code := map[string]any{}
			if m, ok := v.(map[string]any); ok {
				for ck, cv := range m {
					if ck != "ZipFile" {
						code[lowerFirst(ck)] = cv
					}
				}
			}
			p[k] = code
		case "environment":
			p[k] = map[string]any{}
		case "tags": // tag keys are the caller's own words
		default:
			p[k] = lowerKeys(v)
		}
	}
}

// indexedItems moves name.1, name.2… out of p into items of {key: value}, in index order.
func indexedItems(p map[string]any, name, key string) []any {
	var items []any
	for i := 1; ; i++ {
		k := name + "." + strconv.Itoa(i)
		v, ok := p[k]
		if !ok {
			return items
		}
		delete(p, k)
		items = append(items, map[string]any{key: v})
	}
}

func intParam(p map[string]any, k string) {
	if s, ok := p[k].(string); ok {
		if n, err := strconv.Atoi(s); err == nil {
			p[k] = n
		}
	}
}

func boolParam(p map[string]any, k string) {
	if s, ok := p[k].(string); ok {
		if b, err := strconv.ParseBool(s); err == nil {
			p[k] = b
		}
	}
}

// lowerKeys returns v with the first letter of every object key lowered, as CloudTrail
// writes JSON services' parameters and answers.
func lowerKeys(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[lowerFirst(k)] = lowerKeys(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = lowerKeys(e)
		}
		return out
	}
	return v
}
