package world

import (
	"encoding/json"
	"encoding/xml"
)

// The responseElements of the EC2 and Lambda calls that create resources, built from
// moto's answer in the shape CloudTrail writes: EC2's XML lists become "…Set":
// {"items": […]}, EC2 times are epoch milliseconds, key material and environment
// variables are left out. Only these calls' answers are parsed.

// observeEC2 returns the responseElements of a successful EC2 call, nil for calls
// CloudTrail records without them here.
func observeEC2(c *call, body []byte) map[string]any {
	switch c.op.Name {
	case "RunInstances":
		return runInstancesElements(c, body)
	case "RequestSpotInstances":
		return requestSpotElements(c, body)
	case "CreateKeyPair":
		return createKeyPairElements(c, body)
	}
	return nil
}

// ec2Reservation is the answer to RunInstances.
type ec2Reservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	RequesterID   string        `xml:"requesterId"`
	Instances     []ec2Instance `xml:"instancesSet>item"`
}

type ec2Instance struct {
	InstanceID         string   `xml:"instanceId"`
	ImageID            string   `xml:"imageId"`
	State              ec2State `xml:"instanceState"`
	PrivateDNSName     string   `xml:"privateDnsName"`
	KeyName            string   `xml:"keyName"`
	AMILaunchIndex     int      `xml:"amiLaunchIndex"`
	InstanceType       string   `xml:"instanceType"`
	AvailabilityZone   string   `xml:"placement>availabilityZone"`
	Tenancy            string   `xml:"placement>tenancy"`
	Monitoring         string   `xml:"monitoring>state"`
	SubnetID           string   `xml:"subnetId"`
	VPCID              string   `xml:"vpcId"`
	PrivateIPAddress   string   `xml:"privateIpAddress"`
	Architecture       string   `xml:"architecture"`
	RootDeviceType     string   `xml:"rootDeviceType"`
	RootDeviceName     string   `xml:"rootDeviceName"`
	VirtualizationType string   `xml:"virtualizationType"`
	Hypervisor         string   `xml:"hypervisor"`
	ClientToken        string   `xml:"clientToken"`
	Groups             []struct {
		ID   string `xml:"groupId"`
		Name string `xml:"groupName"`
	} `xml:"groupSet>item"`
}

type ec2State struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

func runInstancesElements(c *call, body []byte) map[string]any {
	var r ec2Reservation
	if xml.Unmarshal(body, &r) != nil || len(r.Instances) == 0 {
		return nil
	}
	launched := c.at.UnixMilli()
	items := make([]any, 0, len(r.Instances))
	for _, in := range r.Instances {
		item := map[string]any{
			"instanceId":         in.InstanceID,
			"imageId":            in.ImageID,
			"instanceState":      map[string]any{"code": in.State.Code, "name": in.State.Name},
			"privateDnsName":     in.PrivateDNSName,
			"amiLaunchIndex":     in.AMILaunchIndex,
			"productCodes":       map[string]any{},
			"instanceType":       in.InstanceType,
			"launchTime":         launched,
			"placement":          map[string]any{"availabilityZone": in.AvailabilityZone, "tenancy": in.Tenancy},
			"monitoring":         map[string]any{"state": in.Monitoring},
			"subnetId":           in.SubnetID,
			"vpcId":              in.VPCID,
			"privateIpAddress":   in.PrivateIPAddress,
			"stateReason":        map[string]any{"code": "pending", "message": "pending"},
			"architecture":       in.Architecture,
			"rootDeviceType":     in.RootDeviceType,
			"rootDeviceName":     in.RootDeviceName,
			"blockDeviceMapping": map[string]any{},
			"virtualizationType": in.VirtualizationType,
			"hypervisor":         in.Hypervisor,
			"clientToken":        in.ClientToken,
			"sourceDestCheck":    true,
			"ebsOptimized":       false,
		}
		if in.KeyName != "" {
			item["keyName"] = in.KeyName
		}
		groups := make([]any, 0, len(in.Groups))
		for _, gr := range in.Groups {
			groups = append(groups, map[string]any{"groupId": gr.ID, "groupName": gr.Name})
		}
		item["groupSet"] = map[string]any{"items": groups}
		items = append(items, item)
		c.op.Resources = append(c.op.Resources, resource{
			"arn:aws:ec2:" + c.region + ":" + c.account + ":instance/" + in.InstanceID, "AWS::EC2::Instance", in.InstanceID,
		})
	}
	out := map[string]any{
		"requestId":     c.requestID,
		"reservationId": r.ReservationID,
		"ownerId":       r.OwnerID,
		"groupSet":      map[string]any{},
		"instancesSet":  map[string]any{"items": items},
	}
	if r.RequesterID != "" {
		out["requesterId"] = r.RequesterID
	}
	return out
}

// ec2SpotRequests is the answer to RequestSpotInstances.
type ec2SpotRequests struct {
	Requests []struct {
		ID                   string `xml:"spotInstanceRequestId"`
		SpotPrice            string `xml:"spotPrice"`
		Type                 string `xml:"type"`
		State                string `xml:"state"`
		StatusCode           string `xml:"status>code"`
		StatusMessage        string `xml:"status>message"`
		ProductDescription   string `xml:"productDescription"`
		InterruptionBehavior string `xml:"instanceInterruptionBehavior"`
		ImageID              string `xml:"launchSpecification>imageId"`
		InstanceType         string `xml:"launchSpecification>instanceType"`
		KeyName              string `xml:"launchSpecification>keyName"`
	} `xml:"spotInstanceRequestSet>item"`
}

func requestSpotElements(c *call, body []byte) map[string]any {
	var r ec2SpotRequests
	if xml.Unmarshal(body, &r) != nil || len(r.Requests) == 0 {
		return nil
	}
	created := c.at.UnixMilli()
	items := make([]any, 0, len(r.Requests))
	for _, s := range r.Requests {
		spec := map[string]any{"imageId": s.ImageID, "instanceType": s.InstanceType, "monitoring": map[string]any{"enabled": false}}
		if s.KeyName != "" {
			spec["keyName"] = s.KeyName
		}
		items = append(items, map[string]any{
			"spotInstanceRequestId":        s.ID,
			"spotPrice":                    s.SpotPrice,
			"type":                         s.Type,
			"state":                        s.State,
			"status":                       map[string]any{"code": s.StatusCode, "updateTime": created, "message": s.StatusMessage},
			"launchSpecification":          spec,
			"createTime":                   created,
			"productDescription":           s.ProductDescription,
			"instanceInterruptionBehavior": s.InterruptionBehavior,
		})
	}
	return map[string]any{"requestId": c.requestID, "spotInstanceRequestSet": map[string]any{"items": items}}
}

// ec2KeyPair is the answer to CreateKeyPair; the key material is not read.
type ec2KeyPair struct {
	KeyName        string `xml:"keyName"`
	KeyFingerprint string `xml:"keyFingerprint"`
	KeyPairID      string `xml:"keyPairId"`
}

func createKeyPairElements(c *call, body []byte) map[string]any {
	var k ec2KeyPair
	if xml.Unmarshal(body, &k) != nil || k.KeyName == "" {
		return nil
	}
	c.op.Resources = append(c.op.Resources, resource{
		"arn:aws:ec2:" + c.region + ":" + c.account + ":key-pair/" + k.KeyName, "AWS::EC2::KeyPair", k.KeyName,
	})
	out := map[string]any{
		"requestId":      c.requestID,
		"keyName":        k.KeyName,
		"keyFingerprint": k.KeyFingerprint,
		"keyMaterial":    sensitiveDataRemoved,
	}
	if k.KeyPairID != "" {
		out["keyPairId"] = k.KeyPairID
	}
	return out
}

// lambdaLastModified is how Lambda writes lastModified.
const lambdaLastModified = "2006-01-02T15:04:05.000-0700"

// observeLambda returns the responseElements of a successful CreateFunction: the
// function's configuration with lower-case keys and without environment variables.
func observeLambda(c *call, body []byte) map[string]any {
	if c.op.Name != "CreateFunction20150331" {
		return nil
	}
	var conf map[string]any
	if json.Unmarshal(body, &conf) != nil || len(conf) == 0 {
		return nil
	}
	out, _ := lowerKeys(conf).(map[string]any)
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	if _, ok := out["environment"]; ok {
		out["environment"] = map[string]any{}
	}
	if _, ok := out["lastModified"]; ok {
		out["lastModified"] = c.at.UTC().Format(lambdaLastModified)
	}
	delete(out, "responseMetadata")
	return out
}

// iamLoginProfile and iamPolicy are the answers to CreateLoginProfile and CreatePolicy.
type iamLoginProfile struct {
	UserName              string `xml:"CreateLoginProfileResult>LoginProfile>UserName"`
	PasswordResetRequired bool   `xml:"CreateLoginProfileResult>LoginProfile>PasswordResetRequired"`
}

type iamPolicy struct {
	PolicyName       string `xml:"CreatePolicyResult>Policy>PolicyName"`
	PolicyID         string `xml:"CreatePolicyResult>Policy>PolicyId"`
	ARN              string `xml:"CreatePolicyResult>Policy>Arn"`
	Path             string `xml:"CreatePolicyResult>Policy>Path"`
	DefaultVersionID string `xml:"CreatePolicyResult>Policy>DefaultVersionId"`
}

func loginProfileElements(c *call, body []byte) map[string]any {
	var p iamLoginProfile
	if xml.Unmarshal(body, &p) != nil || p.UserName == "" {
		return nil
	}
	return map[string]any{"loginProfile": map[string]any{
		"userName": p.UserName, "createDate": formatCloudTrailDate(c.at), "passwordResetRequired": p.PasswordResetRequired,
	}}
}

func policyElements(c *call, body []byte) map[string]any {
	var p iamPolicy
	if xml.Unmarshal(body, &p) != nil || p.ARN == "" {
		return nil
	}
	at := formatCloudTrailDate(c.at)
	return map[string]any{"policy": map[string]any{
		"policyName": p.PolicyName, "policyId": p.PolicyID, "arn": p.ARN, "path": p.Path,
		"defaultVersionId": p.DefaultVersionID, "attachmentCount": 0, "permissionsBoundaryUsageCount": 0,
		"isAttachable": true, "createDate": at, "updateDate": at,
	}}
}
