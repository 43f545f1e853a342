package trail

import (
	"encoding/json"
	"slices"
	"testing"
)

// itemStringsRef is ItemStrings for instancesSet.items[].instanceId done
// by json.Unmarshal into structs.
func itemStringsRef(data []byte) []string {
	var ref struct {
		InstancesSet struct {
			Items []struct {
				InstanceID any `json:"instanceId"`
			} `json:"items"`
		} `json:"instancesSet"`
	}
	if json.Unmarshal(data, &ref) != nil {
		return nil
	}
	var out []string
	for _, it := range ref.InstancesSet.Items {
		if s, ok := it.InstanceID.(string); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

var itemSeeds = []string{
	`{"requestId":"r","reservationId":"r-1","instancesSet":{"items":[{"instanceId":"i-1","networkInterfaceSet":{"items":[{"attachment":{"instanceId":"i-x"}}]}},{"InstanceId":"i-2"},{"instanceId":""},{"imageId":"ami-1"},null]}}`,
	`{"instancesSet":{"items":{"instanceId":"i-1"}}}`,
	`{"instancesSet":null,"instancesSet":{"items":[{"instanceId":"i-3"}]}}`,
	`{"instancesSet":{"items":[{"instanceId":"i-1"}]},"instancesSet":{"other":1}}`,
	`{"instancesSet":{"items":[{"instanceId":"i-1"}],"items":null}}`,
	`{"instancesSet":{"items":[{"instanceId":7},{"instanceId":"i-\u0032"}]}}`,
	`{"INSTANCESSET":{"ITEMS":[{"INSTANCEID":"i-4"}]}}`,
	`{"instancesSet":{"items":[1]}}`,
	`[]`, `null`, `{"instancesSet":{"items":[{"instanceId":"i-1"}]}} x`, `{"instancesSet":{"items":[{"instanceId":"i-1"}`,
}

// TestItemStringsAsUnmarshal: ItemStrings gives what json.Unmarshal into
// structs gives, on well-formed, odd and broken responses.
func TestItemStringsAsUnmarshal(t *testing.T) {
	for _, s := range itemSeeds {
		got, want := ItemStrings([]byte(s), "instancesSet", "instanceId"), itemStringsRef([]byte(s))
		if !slices.Equal(got, want) {
			t.Errorf("ItemStrings(%s) = %q, json.Unmarshal gives %q", s, got, want)
		}
	}
	if got := ItemStrings([]byte(itemSeeds[0]), "instancesSet", "instanceId"); !slices.Equal(got, []string{"i-1", "i-2"}) {
		t.Errorf("ItemStrings of a RunInstances response = %q, want i-1 and i-2", got)
	}
}

func FuzzItemStrings(f *testing.F) {
	for _, s := range itemSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := ItemStrings(data, "instancesSet", "instanceId"), itemStringsRef(data); !slices.Equal(got, want) {
			t.Fatalf("ItemStrings(%q) = %q, json.Unmarshal gives %q", data, got, want)
		}
	})
}
