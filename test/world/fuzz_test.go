package world

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func FuzzDecodeCursor(f *testing.F) {
	f.Add(encodeCursor(lookupCursor{At: 1700000000000000000, Seq: 7}))
	f.Add("not-a-token")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := decodeCursor(token)
		if err == nil && c.Seq == 0 {
			t.Fatalf("accepted token %q without a position", token)
		}
	})
}

func FuzzDecodeFault(f *testing.F) {
	f.Add(`{"service":"s3","delay":"50ms","errorRate":0.1,"throttleRate":0.2}`)
	f.Add(`{"service":"*","errorRate":2}`)
	f.Add(`{"service":"cloudtrail","breakRate":0.5}`)
	f.Fuzz(func(t *testing.T, body string) {
		service, fault, err := decodeFault([]byte(body))
		if err != nil {
			return
		}
		if service == "" || !(fault.ErrorRate >= 0 && fault.ErrorRate <= 1) || !(fault.ThrottleRate >= 0 && fault.ThrottleRate <= 1) ||
			!(fault.BreakRate >= 0 && fault.BreakRate <= 1) {
			t.Fatalf("accepted %q as %q %+v", body, service, fault)
		}
	})
}

func FuzzClassify(f *testing.F) {
	f.Add("GET", "/bucket/key/part?tagging", "s3", "")
	f.Add("POST", "/2015-03-31/functions/f/invocations", "lambda", "{}")
	f.Add("POST", "/", "iam", "Action=CreateUser&UserName=x&Version=2010-05-08")
	f.Add("POST", "/", "ec2", "Action=RunInstances&InstanceId.1=i-1")
	f.Fuzz(func(t *testing.T, method, target, service, body string) {
		if _, err := url.ParseRequestURI(target); err != nil || !strings.HasPrefix(target, "/") ||
			strings.ContainsAny(target, " \r\n\t#") || !validMethod(method) {
			return
		}
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		op := classify(r, []byte(body), service, DefaultAccount, "us-east-1")
		if op.Service != service || !strings.Contains(op.Action, ":") {
			t.Fatalf("classify(%s %s, %s) = %+v", method, target, service, op)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodHead:
		return true
	}
	return false
}

func FuzzResponseError(f *testing.F) {
	f.Add(403, `<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>`)
	f.Add(400, `{"__type":"com.amazon#ThrottlingException","message":"Rate exceeded"}`)
	f.Add(404, ``)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 300 || status > 599 {
			return
		}
		code, _ := responseError(status, http.Header{}, []byte(body))
		if code == "" || strings.ContainsAny(code, ":#") {
			t.Fatalf("responseError(%d, %q) code = %q", status, body, code)
		}
	})
}

func FuzzXMLValues(f *testing.F) {
	f.Add(`<A><member>x</member><B><member>y</member></B></A>`, "member")
	f.Fuzz(func(t *testing.T, body, name string) {
		for _, v := range xmlValues([]byte(body), name) {
			if v != strings.TrimSpace(v) {
				t.Fatalf("value %q not trimmed", v)
			}
		}
	})
}
