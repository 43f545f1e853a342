package trail

import (
	"encoding/json"
	"reflect"
	"testing"
)

// valueSeeds are request parameters and response elements as CloudTrail
// writes them, and the JSON that decoders get wrong.
var valueSeeds = []string{
	`{"userName":"bob","tags":[{"key":"a","value":"b"}],"durationSeconds":3600,"dryRun":false}`,
	`{"policyDocument":"{\"Version\":\"2012-10-17\"}","n":-0.5e+3,"x":null,"t":true}`,
	`{"a":1,"a":{"b":[]},"\u0041":"\ud83d\ude00","é":"caf\u00e9"}`,
	`{"big":1e999,"after":"kept"}`,
	`[1,"two",[3],{}]`,
	`"just a string"`,
	`  {"spaced" :  [ 1 , 2 ] }  `,
	"{\"bad\":\"\xff\xfe\"}",
	`{"a":`,
	`{"a":1,}`,
	`[01]`,
	`{"a":tru}`,
	``,
}

func TestValueDecodesAsEncodingJSON(t *testing.T) {
	for _, s := range valueSeeds {
		checkValue(t, []byte(s))
	}
	v, err := Value([]byte(valueSeeds[3]))
	if err == nil {
		t.Fatalf("Value(%s) = nil error, want json's out-of-range error", valueSeeds[3])
	}
	if m, _ := v.(map[string]any); m["after"] != "kept" || m["big"] != nil {
		t.Errorf("Value(%s) = %#v, want what json.Unmarshal keeps: the rest, and nil for the number", valueSeeds[3], v)
	}
}

// checkValue fails t unless Value(data) gives what json.Unmarshal gives,
// value and error alike.
func checkValue(t *testing.T, data []byte) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal(data, &want)
	got, err := Value(data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Value(%q) error %v, json.Unmarshal error %v", data, err, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Value(%q) = %#v, json.Unmarshal gives %#v", data, got, want)
	}
}

func FuzzValue(f *testing.F) {
	for _, s := range valueSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkValue(t, data) })
}
