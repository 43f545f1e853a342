package world

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The calls that open a resource to others (shares, resource policies,
// ingress rules, grants) and the ones around them, recorded in CloudTrail's
// shapes (from real records: Stratus Red Team detonation logs and the AWS
// CloudTrail documentation), so that what reads them reads the world as it
// reads AWS.

// shapeOpenings gives the request parameters of the opening calls
// CloudTrail's shape; it reports whether it knew the call.
func shapeOpenings(op *operation) bool {
	p := op.Params
	switch op.Service + ":" + op.Name {
	case "ec2:ModifySnapshotAttribute":
		shapePermissionChange(p, "createVolumePermission")
		if a, ok := p["attribute"].(string); ok {
			p["attributeType"] = upperSnake(a)
			delete(p, "attribute")
		}
	case "ec2:ModifyImageAttribute":
		shapePermissionChange(p, "launchPermission")
		if a, ok := p["attribute"].(string); ok {
			p["attributeType"] = a
			delete(p, "attribute")
		}
	case "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress":
		intParam(p, "fromPort")
		intParam(p, "toPort")
		perms := indexedObjects(p, "ipPermissions")
		for _, perm := range perms {
			m := perm.(map[string]any)
			intParam(m, "fromPort")
			intParam(m, "toPort")
			for _, set := range []string{"ipRanges", "ipv6Ranges", "groups", "prefixListIds"} {
				if items := indexedObjects(m, set); len(items) > 0 {
					m[set] = map[string]any{"items": items}
				}
			}
		}
		p["ipPermissions"] = map[string]any{}
		if len(perms) > 0 {
			p["ipPermissions"] = map[string]any{"items": perms}
		}
	case "rds:ModifyDBSnapshotAttribute", "rds:ModifyDBClusterSnapshotAttribute":
		for _, k := range []string{"valuesToAdd", "valuesToRemove"} {
			if v := indexedStrings(p, k+".AttributeValue"); len(v) > 0 {
				p[k] = v
			}
		}
	default:
		return false
	}
	return true
}

// shapePermissionChange moves attr.Add.N.UserId / .Group (and Remove) into
// {attr: {add: {items: [{userId}…]}, remove: …}}.
func shapePermissionChange(p map[string]any, attr string) {
	change := map[string]any{}
	for _, verb := range []string{"Add", "Remove"} {
		if items := indexedObjects(p, attr+"."+verb); len(items) > 0 {
			change[strings.ToLower(verb)] = map[string]any{"items": items}
		}
	}
	for _, legacy := range []string{"userId", "userGroup"} {
		if items := indexedStrings(p, legacy); len(items) > 0 {
			key := map[string]string{"userId": "userId", "userGroup": "group"}[legacy]
			var list []any
			for _, v := range items {
				list = append(list, map[string]any{key: v})
			}
			change["add"] = map[string]any{"items": list}
		}
	}
	if len(change) > 0 {
		p[attr] = change
	}
}

// indexedObjects moves prefix.N.Field… out of p into a list of objects
// with lower-cased fields, in index order (nested lists stay indexed).
func indexedObjects(p map[string]any, prefix string) []any {
	byIndex := map[int]map[string]any{}
	for k, v := range p {
		rest, ok := strings.CutPrefix(k, prefix+".")
		if !ok {
			continue
		}
		n, field, found := strings.Cut(rest, ".")
		i, err := strconv.Atoi(n)
		if err != nil || !found {
			continue
		}
		if byIndex[i] == nil {
			byIndex[i] = map[string]any{}
		}
		byIndex[i][lowerFirst(field)] = v
		delete(p, k)
	}
	return inIndexOrder(byIndex)
}

// indexedStrings moves prefix.N out of p into a list, in index order.
func indexedStrings(p map[string]any, prefix string) []any {
	byIndex := map[int]any{}
	for k, v := range p {
		if rest, ok := strings.CutPrefix(k, prefix+"."); ok {
			if i, err := strconv.Atoi(rest); err == nil {
				byIndex[i] = v
				delete(p, k)
			}
		}
	}
	return inIndexOrder(byIndex)
}

func inIndexOrder[V any](byIndex map[int]V) []any {
	idx := make([]int, 0, len(byIndex))
	for i := range byIndex {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	out := make([]any, 0, len(idx))
	for _, i := range idx {
		out = append(out, byIndex[i])
	}
	return out
}

// upperSnake turns createVolumePermission into CREATE_VOLUME_PERMISSION.
func upperSnake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' && i > 0 {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// s3BodyParams records what CloudTrail records of an S3 call's body and
// headers: a bucket policy as an object, an XML configuration (lifecycle,
// ACL, replication, versioning…) as nested objects under its root
// element, canned ACLs and grant headers as lists, and the customer key
// algorithm of SSE-C (never the key).
func s3BodyParams(params map[string]any, r *http.Request, body []byte, sub string) {
	for _, h := range []string{"x-amz-acl", "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp", "x-amz-grant-full-control"} {
		if v := r.Header.Get(h); v != "" {
			params[h] = []any{v}
		}
	}
	if v := r.Header.Get("X-Amz-Server-Side-Encryption-Customer-Algorithm"); v != "" {
		params["x-amz-server-side-encryption-customer-algorithm"] = v
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPost || len(body) == 0 || sub == "" {
		return
	}
	if sub == "policy" {
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			params["bucketPolicy"] = doc
		}
		return
	}
	if name, tree, ok := xmlTree(body); ok {
		params[name] = tree
	}
}

// xmlTree reads an XML document into nested maps: an element holding
// text is its text, repeated elements become a list; attributes
// (xmlns) are kept as CloudTrail does.
func xmlTree(body []byte) (string, any, bool) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var read func(start xml.StartElement) (any, error)
	read = func(start xml.StartElement) (any, error) {
		node := map[string]any{}
		for _, a := range start.Attr {
			if a.Name.Local == "xmlns" {
				node["xmlns"] = a.Value
			}
		}
		children := 0
		var text strings.Builder
		for {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			switch t := tok.(type) {
			case xml.StartElement:
				children++
				child, err := read(t)
				if err != nil {
					return nil, err
				}
				if prev, ok := node[t.Name.Local]; ok {
					list, isList := prev.([]any)
					if !isList {
						list = []any{prev}
					}
					node[t.Name.Local] = append(list, child)
				} else {
					node[t.Name.Local] = child
				}
			case xml.CharData:
				text.Write(t)
			case xml.EndElement:
				if children > 0 {
					return node, nil
				}
				s := strings.TrimSpace(text.String())
				if n, err := strconv.Atoi(s); err == nil {
					return n, nil
				}
				return s, nil
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF: no element
			return "", nil, false
		}
		if start, ok := tok.(xml.StartElement); ok {
			tree, err := read(start)
			if err != nil {
				return "", nil, false
			}
			return start.Name.Local, tree, true
		}
	}
}

// openingElements are the responseElements CloudTrail records for the
// opening calls whose answer names what they made.
func openingElements(c *call, body []byte) map[string]any {
	switch c.op.Service + ":" + c.op.Name {
	case "ec2:AuthorizeSecurityGroupIngress":
		ids := xmlValues(body, "securityGroupRuleId")
		var items []any
		for i, id := range ids {
			item := map[string]any{"securityGroupRuleId": id, "isEgress": false}
			for _, f := range []string{"groupId", "groupOwnerId", "ipProtocol", "cidrIpv4", "cidrIpv6"} {
				if v := xmlValues(body, f); i < len(v) && v[i] != "" {
					item[f] = v[i]
				}
			}
			for _, f := range []string{"fromPort", "toPort"} {
				if v := xmlValues(body, f); i < len(v) {
					if n, err := strconv.Atoi(v[i]); err == nil {
						item[f] = n
					}
				}
			}
			items = append(items, item)
		}
		out := map[string]any{"_return": true, "requestId": c.requestID}
		if len(items) > 0 {
			out["securityGroupRuleSet"] = map[string]any{"items": items}
		}
		return out
	case "ec2:ModifySnapshotAttribute", "ec2:ModifyImageAttribute":
		return map[string]any{"_return": true, "requestId": c.requestID}
	case "kms:CreateGrant":
		var resp struct{ GrantId string }
		if json.Unmarshal(body, &resp) == nil && resp.GrantId != "" {
			out := map[string]any{"grantId": resp.GrantId}
			if k, ok := c.op.Params["keyId"].(string); ok {
				out["keyId"] = k
			}
			return out
		}
	case "secretsmanager:CreateSecret":
		var resp struct{ ARN, Name, VersionId string }
		if json.Unmarshal(body, &resp) == nil && resp.ARN != "" {
			return map[string]any{"arn": resp.ARN, "name": resp.Name, "versionId": resp.VersionId}
		}
	case "iam:CreateOpenIDConnectProvider":
		return map[string]any{"openIDConnectProviderArn": firstXML(body, "OpenIDConnectProviderArn")}
	case "iam:CreateSAMLProvider":
		return map[string]any{"sAMLProviderArn": firstXML(body, "SAMLProviderArn")}
	case "lambda:AddPermission20150331v2":
		var resp struct{ Statement string }
		if json.Unmarshal(body, &resp) == nil && resp.Statement != "" {
			return map[string]any{"statement": resp.Statement}
		}
	case "lambda:CreateFunctionUrlConfig20211031":
		var resp map[string]any
		if json.Unmarshal(body, &resp) == nil {
			out, _ := lowerKeys(resp).(map[string]any)
			return out
		}
	}
	return nil
}

// motoBodies rewrites a request moto reads only in an older form: it
// shares snapshots only through OperationType and UserId.N / UserGroup.N,
// where the SDKs send CreateVolumePermission.Add.N.UserId (both are
// AWS's). It returns one body per operation to forward, in order.
func motoBodies(c *call, body []byte) [][]byte {
	if c.op.Service == "rds" && c.owner != "" {
		// moto finds another account's snapshot by its name only.
		if q, err := url.ParseQuery(string(body)); err == nil {
			for _, k := range []string{"DBSnapshotIdentifier", "DBClusterSnapshotIdentifier"} {
				if id := q.Get(k); strings.HasPrefix(id, "arn:") {
					q.Set(k, id[strings.LastIndexByte(id, ':')+1:])
					return [][]byte{[]byte(q.Encode())}
				}
			}
		}
	}
	if c.op.Service != "ec2" || c.op.Name != "ModifySnapshotAttribute" || !bytes.Contains(body, []byte("CreateVolumePermission.")) {
		return [][]byte{body}
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return [][]byte{body}
	}
	var out [][]byte
	for _, verb := range []string{"Add", "Remove"} {
		prefix := "CreateVolumePermission." + verb + "."
		v := url.Values{"Action": {q.Get("Action")}, "Version": {q.Get("Version")}, "SnapshotId": {q.Get("SnapshotId")},
			"Attribute": {"createVolumePermission"}, "OperationType": {strings.ToLower(verb)}}
		users, groups := 0, 0
		for k, vals := range q {
			rest, ok := strings.CutPrefix(k, prefix)
			if !ok || len(vals) == 0 {
				continue
			}
			switch {
			case strings.HasSuffix(rest, ".UserId"):
				users++
				v.Set("UserId."+strconv.Itoa(users), vals[0])
			case strings.HasSuffix(rest, ".Group"):
				groups++
				v.Set("UserGroup."+strconv.Itoa(groups), vals[0])
			}
		}
		if users+groups > 0 {
			out = append(out, []byte(v.Encode()))
		}
	}
	if len(out) == 0 {
		return [][]byte{body}
	}
	return out
}

// motoAnswer corrects what moto answers differently from AWS: IAM
// Identity Center's permission sets give their session duration as an
// ISO 8601 duration ("PT1H"), moto as a number of seconds.
func motoAnswer(c *call, body []byte) []byte {
	if c.op.Service != "sso" || !bytes.Contains(body, []byte(`"SessionDuration"`)) {
		return body
	}
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		return body
	}
	var fix func(v any)
	fix = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if n, ok := e.(float64); ok && k == "SessionDuration" {
					x[k] = isoDuration(time.Duration(n) * time.Second)
					continue
				}
				fix(e)
			}
		case []any:
			for _, e := range x {
				fix(e)
			}
		}
	}
	fix(m)
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// isoDuration writes d as ISO 8601 does: PT1H, PT90M, PT45S.
func isoDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("PT%dH", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("PT%dM", d/time.Minute)
	}
	return fmt.Sprintf("PT%dS", d/time.Second)
}
