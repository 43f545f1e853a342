package trail

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyleak/keyleak/awsops/trail/trailtest"
)

// checkDecodeAgrees decodes the documents one after the other into one
// record with Decode, and into another with json.Unmarshal,
// and fails unless both fail alike or hold the same record after each.
// It checks credentialsAccessKeyID against json.Unmarshal on each too.
func checkDecodeAgrees(tb testing.TB, docs ...[]byte) {
	tb.Helper()
	var got, want Record
	for i, doc := range docs {
		gotErr := Decode(doc, &got)
		wantErr := json.Unmarshal(doc, &want)
		if (gotErr == nil) != (wantErr == nil) {
			tb.Fatalf("document %d %q: Decode error %v, json.Unmarshal error %v", i, doc, gotErr, wantErr)
		}
		if wantErr != nil {
			break // encoding/json goes on after some errors: the records may differ
		}
		if !reflect.DeepEqual(got, want) {
			tb.Fatalf("document %d %q:\ndecodeTrailRecord %+v\n     json.Unmarshal %+v", i, doc, got, want)
		}
	}
	for i, doc := range docs {
		var resp struct {
			Credentials struct {
				AccessKeyID string `json:"accessKeyId"`
			} `json:"credentials"`
		}
		wantErr := json.Unmarshal(doc, &resp)
		gotID, gotErr := credentialsAccessKeyID(doc)
		if (gotErr == nil) != (wantErr == nil) || wantErr == nil && gotID != resp.Credentials.AccessKeyID {
			tb.Fatalf("document %d %q: credentialsAccessKeyID = %q, %v; json.Unmarshal %q, %v", i, doc, gotID, gotErr, resp.Credentials.AccessKeyID, wantErr)
		}
	}
}

func TestDecodeTrailRecordAgrees(t *testing.T) {
	const rec = `{"eventVersion":"1.09","eventTime":"2026-11-21T10:45:00Z","userIdentity":{"type":"IAMUser","accessKeyId":"AKIARZPUZDIKGB2VALC4"}}`
	tests := []struct {
		name string
		docs []string // decoded in turn into the same record
	}{
		{name: "record", docs: []string{rec}},
		{name: "white space", docs: []string{" \t\r\n{ \"eventName\" :\n\"A\" , \"readOnly\"\t:\rtrue }\n"}},
		{name: "empty object", docs: []string{`{}`}},
		{name: "null record", docs: []string{`null`}},
		{name: "null after a record", docs: []string{rec, ` null `}},
		{name: "unknown members of every kind", docs: []string{`{"a":{"b":[1,-2.5e+3,"x",true,false,null,{},[]]},"c":"\u00e9","eventName":"E"}`}},
		{name: "case-insensitive names", docs: []string{`{"EVENTNAME":"A","UserIdentity":{"ACCESSKEYID":"K","arn":"a"},"Resources":[{"arn":"r","AccountID":"1"}]}`}},
		{name: "kelvin sign and long s", docs: []string{`{"userIdentity":{"acce\u017fs\u212aeyId":"K"},"eventName":"A","event\u212a":"x"}`, "{\"userIdentity\":{\"accessKeyId\":\"B\",\"acce\u017fs\u212aeyId\":\"C\"}}"}},
		{name: "other non-ASCII letter in a name", docs: []string{`{"eventNam\u00e9":"A","eventName":"B","ev\u0130ntName":"C"}`}},
		{name: "escaped names", docs: []string{`{"event\u004eame":"A","\u0065ventSource":"s3","user\"Identity":{}}`}},
		{name: "escaped values", docs: []string{`{"eventName":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00","errorMessage":"\ud800 lone","userAgent":"\udc00\u0041"}`}},
		{name: "invalid UTF-8", docs: []string{"{\"eventName\":\"a\xffb\",\"errorCode\":\"\xed\xa0\x80\",\"userAgent\":\"ok \xc3\xa9\"}"}},
		{name: "U+FFFD and U+2028", docs: []string{"{\"eventName\":\"\xef\xbf\xbd\",\"errorCode\":\"\xe2\x80\xa8\"}"}},
		{name: "duplicates: the last wins", docs: []string{`{"eventName":"A","eventName":"B","readOnly":true,"readOnly":false}`}},
		{name: "duplicate objects merge", docs: []string{`{"userIdentity":{"type":"T","arn":"a"},"userIdentity":{"arn":"b"},"userIdentity":null}`}},
		{name: "null leaves fields", docs: []string{rec, `{"eventVersion":null,"eventTime":null,"userIdentity":null,"readOnly":null}`}},
		{name: "raw members", docs: []string{`{"requestParameters":{"a": [1, 2]} ,"responseElements":null,"additionalEventData":"x"}`, `{"requestParameters":7}`}},
		{name: "resources", docs: []string{`{"resources":[{"ARN":"a","accountId":"1","type":"t"},null,{"x":1}]}`}},
		{name: "resources merge into earlier elements", docs: []string{
			`{"resources":[{"ARN":"a","type":"t"},{"ARN":"b","type":"u"},{"ARN":"c"}]}`,
			`{"resources":[{"ARN":"x"}]}`,
			`{"resources":[{"accountId":"1"},{"accountId":"2"},null,{"ARN":"d"}]}`,
			`{"resources":[],"eventName":"E"}`,
			`{"resources":null}`,
			`{"resources":[null,{"type":"v"}]}`,
		}},
		{name: "session context", docs: []string{`{"userIdentity":{"sessionContext":{"sessionIssuer":{"type":"Role","arn":"r","userName":"u","principalId":"p","accountId":"1"},"attributes":{"creationDate":"d","mfaAuthenticated":"false"},"sourceIdentity":"s","webIdFederationData":{}}}}`}},
		{name: "time", docs: []string{`{"eventTime":"2026-11-21T10:45:00.123+02:00"}`}},
		{name: "time not RFC 3339", docs: []string{`{"eventTime":"Nov 21, 2026"}`}},
		{name: "time as a number", docs: []string{`{"eventTime":42}`}},
		{name: "time as an object", docs: []string{`{"eventTime":{"t":1}}`}},
		{name: "time with an escape", docs: []string{`{"eventTime":"2026-11-21T10:45:00\u005a"}`}},
		{name: "string as a number", docs: []string{`{"eventName":1}`}},
		{name: "string as an object", docs: []string{`{"eventName":{}}`}},
		{name: "bool as a string", docs: []string{`{"readOnly":"true"}`}},
		{name: "object as an array", docs: []string{`{"userIdentity":[]}`}},
		{name: "object as a string", docs: []string{`{"userIdentity":"x"}`}},
		{name: "resources as an object", docs: []string{`{"resources":{}}`}},
		{name: "resource as a string", docs: []string{`{"resources":["x"]}`}},
		{name: "record as an array", docs: []string{`[]`}},
		{name: "record as a string", docs: []string{`"x"`}},
		{name: "type error then syntax error", docs: []string{`{"eventName":1,}`}},
		{name: "empty", docs: []string{``}},
		{name: "space only", docs: []string{` `}},
		{name: "truncated", docs: []string{rec[:len(rec)-1]}},
		{name: "trailing data", docs: []string{rec + `x`}},
		{name: "two values", docs: []string{rec + ` {}`}},
		{name: "trailing comma", docs: []string{`{"a":1,}`}},
		{name: "trailing comma in an array", docs: []string{`{"a":[1,]}`}},
		{name: "missing colon", docs: []string{`{"a" 1}`}},
		{name: "single quotes", docs: []string{`{'a':1}`}},
		{name: "bad numbers", docs: []string{`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":+1}`, `{"a":.5}`, `{"a":1e}`, `{"a":1e+}`}},
		{name: "good numbers", docs: []string{`{"a":[0,-0,1.5,-12.25e-3,4E+2,9e9]}`}},
		{name: "bad literals", docs: []string{`{"a":tru}`, `{"a":nul}`, `{"readOnly":truth}`}},
		{name: "bad escape", docs: []string{`{"eventName":"\x"}`}},
		{name: "bad escape in a skipped string", docs: []string{`{"a":"\u12g4"}`}},
		{name: "short unicode escape", docs: []string{`{"a":"u\u12"}`}},
		{name: "control character in a string", docs: []string{"{\"eventName\":\"a\tb\"}"}},
		{name: "byte order mark", docs: []string{"\xef\xbb\xbf{}"}},
		{name: "mismatched brackets", docs: []string{`{"a":[}`, `{"a":{]}`, `{"a":[1}]}`}},
		{name: "deep nesting at the limit", docs: []string{`{"a":` + strings.Repeat("[", maxNesting-1) + strings.Repeat("]", maxNesting-1) + `}`}},
		{name: "deep nesting over the limit", docs: []string{`{"a":` + strings.Repeat("[", maxNesting) + strings.Repeat("]", maxNesting) + `}`}},
		{name: "deep unclosed", docs: []string{strings.Repeat(`{"a":`, 2*maxNesting)}},
		{name: "credentials", docs: []string{`{"credentials":{"accessKeyId":"ASIA1","sessionToken":"t"},"assumedRoleUser":{}}`}},
		{name: "credentials duplicated", docs: []string{`{"credentials":{"accessKeyId":"A"},"Credentials":{"x":1},"credentials":null}`}},
		{name: "credentials of the wrong type", docs: []string{`{"credentials":"x"}`, `{"credentials":{"accessKeyId":7}}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			docs := make([][]byte, len(tt.docs))
			for i, d := range tt.docs {
				docs[i] = []byte(d)
			}
			checkDecodeAgrees(t, docs...)
			if len(docs) > 1 { // each on its own, too
				for _, d := range docs {
					checkDecodeAgrees(t, d)
				}
			}
		})
	}
}

// recordMutations returns changes to a record's JSON text of the sorts that
// matter to a decoder: names in other cases and escaped, escaped values,
// duplicate and null members, values of other types, and broken syntax.
func recordMutations() []func(rng *rand.Rand, doc string) string {
	return []func(rng *rand.Rand, doc string) string{
		func(rng *rand.Rand, doc string) string { return strings.Replace(doc, `"eventName"`, `"EventName"`, 1) },
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"accessKeyId"`, `"ACCESSKEYID"`, -1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"accessKeyId"`, `"acce\u017fsKeyId"`, 1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"userName"`, `"user\u004eame"`, -1)
		},
		func(rng *rand.Rand, doc string) string { return strings.Replace(doc, `us-east-1`, `us-\u0065ast-1`, 1) },
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"eventSource":"`, `"eventSource":"\u00e9\"`, 1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.TrimSuffix(doc, "}") + `,"eventName":"Again","readOnly":false}`
		},
		func(rng *rand.Rand, doc string) string {
			return strings.TrimSuffix(doc, "}") + `,"userIdentity":{"userName":"second"},"resources":[{"type":"only"}]}`
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"readOnly":true`, `"readOnly":null`, 1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"responseElements":null`, `"responseElements":{"a":null}`, 1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"readOnly":true`, `"readOnly":"true"`, 1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"awsRegion":`, `"awsRegion":1,"x":`, 1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"eventTime":"`, `"eventTime":"x`, 1)
		},
		func(rng *rand.Rand, doc string) string {
			return strings.Replace(doc, `"resources":[`, `"resources":[null,`, 1)
		},
		func(rng *rand.Rand, doc string) string { return doc[:rng.IntN(len(doc))] },
		func(rng *rand.Rand, doc string) string {
			i := rng.IntN(len(doc))
			const bytes = "{}[],:\"\\ 0-eE.x\x01\xff"
			return doc[:i] + string(bytes[rng.IntN(len(bytes))]) + doc[i:]
		},
		func(rng *rand.Rand, doc string) string { i := rng.IntN(len(doc)); return doc[:i] + doc[i+1:] },
	}
}

func TestDecodeTrailRecordGenerated(t *testing.T) {
	for seed := range uint64(6) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			g := trailtest.NewGen(t, seed, 2, 2)
			g.Indent, g.Sorted, g.BigRate = seed%3 == 1, seed%3 == 2, 0.05
			t0 := time.Date(2026, 11, 21, 10, 45, 0, 0, time.UTC)
			mutations := recordMutations()
			for i := range 300 {
				doc := string(g.Marshal(t, g.Record(t0.Add(time.Duration(i)*time.Second))))
				if g.Indent {
					doc = strings.ReplaceAll(doc, `,"`, ",\n  \"")
				}
				checkDecodeAgrees(t, []byte(doc))
				for range 3 {
					mutated := doc
					for range 1 + g.Rand.IntN(3) {
						if mutated != "" {
							mutated = mutations[g.Rand.IntN(len(mutations))](g.Rand, mutated)
						}
					}
					checkDecodeAgrees(t, []byte(doc), []byte(mutated))
				}
			}
		})
	}
}

func FuzzDecodeTrailRecord(f *testing.F) {
	g := trailtest.NewGen(f, 9, 1, 1)
	t0 := time.Date(2026, 11, 21, 10, 45, 0, 0, time.UTC)
	for i := range 12 {
		doc := g.Marshal(f, g.Record(t0.Add(time.Duration(i)*time.Second)))
		f.Add(doc, []byte(`{"resources":[{"ARN":"x"}],"eventName":"E"}`))
	}
	f.Add([]byte(`{"resources":[{"ARN":"a"},{"ARN":"b"}]}`), []byte(`{"resources":[{"type":"t"}]}`))
	f.Add([]byte(`{"credentials":{"accessKeyId":"A"}}`), []byte(`{"Credentials":{"AccessKeyId":"B"}}`))
	f.Add([]byte(`{"event\u212a":"\ud83d\ude00"}`), []byte(`null`))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		checkDecodeAgrees(t, first, second)
	})
}
