package trail

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestTrailScanExactFields(t *testing.T) {
	const tracked = "AKIARZPUZDIKGB2VALC4"
	tests := []struct {
		name    string
		record  string
		wantKey string // "" when the record must not match
	}{
		{name: "caller", record: `{"userIdentity":{"accessKeyId":"` + tracked + `"}}`, wantKey: tracked},
		{name: "issued credentials", record: `{"userIdentity":{"accessKeyId":"ASIAQNZGKIQY56JQ7WML"},"responseElements":{"credentials":{"accessKeyId":"` + tracked + `"}}}`, wantKey: tracked},
		{name: "request parameter", record: `{"userIdentity":{"accessKeyId":"ASIAQNZGKIQY56JQ7WML"},"requestParameters":{"accessKeyId":"` + tracked + `"}}`},
		{name: "new access key in response", record: `{"responseElements":{"accessKey":{"accessKeyId":"` + tracked + `"}}}`},
		{name: "error message", record: `{"errorMessage":"key ` + tracked + ` is not authorized"}`},
		{name: "longer ID containing the key", record: `{"userIdentity":{"accessKeyId":"` + tracked + `X"}}`},
		{name: "nested record-like object", record: `{"requestParameters":{"items":[{"eventVersion":"1","userIdentity":{"accessKeyId":"` + tracked + `"}}]}}`},
		{name: "escaped quotes before the key", record: `{"requestParameters":{"p":"\"}]},{\"userIdentity\":{\"accessKeyId\":\"` + tracked + `\"}}"}}`},
	}
	s := NewScanner([]string{tracked}, ScanOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := `{"Records":[{"eventVersion":"1.09"},` + tt.record + `]}`
			got, _, err := scanAll(s, "fields.json", strings.NewReader(doc))
			if err != nil {
				t.Fatalf("ScanObject: %v", err)
			}
			var gotKey string
			if len(got) == 1 {
				gotKey = got[0].Key
			}
			if len(got) > 1 || gotKey != tt.wantKey {
				t.Errorf("matches %+v, want key %q", got, tt.wantKey)
			}
		})
	}
}

func TestTrailScanLogShape(t *testing.T) {
	const key = "AKIARZPUZDIKGB2VALC4"
	rec := `{"userIdentity":{"accessKeyId":"` + key + `"}}`
	tests := []struct {
		name    string
		doc     string
		want    int
		wantErr error
	}{
		{name: "records", doc: `{"Records":[` + rec + `]}`, want: 1},
		{name: "white space", doc: "{ \"Records\" :\n [\n  " + rec + " ,\n  " + rec + "\n ]\n}", want: 2},
		{name: "record nested in a record", doc: `{"Records":[{"eventVersion":"1.09","requestParameters":{"items":[{"x":1},` + rec + `]}}]}`, want: 0},
		{name: "record-shaped parameter", doc: `{"Records":[{"eventVersion":"1.09","requestParameters":` + rec + `}]}`, want: 0},
		{name: "empty log", doc: `{"Records":[]}`},
		{name: "other first member", doc: `{"x":1,"Records":[` + rec + `]}`, wantErr: ErrNotTrailLog},
		{name: "digest file", doc: `{"awsAccountId":"123456789012","logFiles":[` + rec + `]}`, wantErr: ErrNotTrailLog},
		{name: "lower-case key", doc: `{"records":[` + rec + `]}`, wantErr: ErrNotTrailLog},
		{name: "root array", doc: `[{"Records":[` + rec + `]}]`, wantErr: ErrNotTrailLog},
		{name: "records object", doc: `{"Records":{"a":` + rec + `}}`, wantErr: ErrNotTrailLog},
	}
	s := NewScanner([]string{key}, ScanOptions{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := scanAll(s, "doc.json", strings.NewReader(tt.doc))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ScanObject error = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			want, _ := referenceScan(s, []byte(tt.doc))
			if len(got) != tt.want || !reflect.DeepEqual(got, want) {
				t.Errorf("got %d matches %v, want %d (reference %v)", len(got), offsets(got), tt.want, offsets(want))
			}
		})
	}
}
