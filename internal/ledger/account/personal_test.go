package account

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
)

// SealPersonal and PersonalFields say the same thing twice, once for the
// writer (Go fields) and once for the readers (JSON members): sealing
// every event with a mark must change exactly the members listed.
func TestSealPersonalChangesThePersonalFields(t *testing.T) {
	for _, tc := range everyEvent {
		sealed, err := SealPersonal(tc.event, func(s string) (string, error) { return "sealed:" + s, nil })
		if err != nil {
			t.Fatal(err)
		}
		_, _, before, _ := EncodeEvent(tc.event)
		_, _, after, err := EncodeEvent(sealed)
		if err != nil {
			t.Fatal(err)
		}
		var b, a map[string]any
		if err := json.Unmarshal(before, &b); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(after, &a); err != nil {
			t.Fatal(err)
		}
		var changed []string
		for k := range maps.Keys(a) {
			if a[k] != b[k] {
				changed = append(changed, k)
			}
		}
		slices.Sort(changed)
		want := slices.Sorted(slices.Values(PersonalFields[tc.typ]))
		if b["transferId"] != nil && b["transferId"] != "" {
			// A leg's reference is the transfer's, sealed already.
			want = slices.DeleteFunc(want, func(f string) bool { return f == "reference" })
		}
		if !slices.Equal(changed, want) {
			t.Errorf("%s: sealing changed %v, PersonalFields lists %v", tc.typ, changed, want)
		}
	}
}
