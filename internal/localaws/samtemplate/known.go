package samtemplate

import (
	"fmt"
	"reflect"
	"sort"
)

// knownProperties fails when the resource sets a property that the struct
// shape does not name, so a template change that a converter would ignore is
// caught the first time a test reads it.
func knownProperties(r Resource, shape any) error {
	known := map[string]bool{}
	st := reflect.TypeOf(shape)
	for i := 0; i < st.NumField(); i++ {
		known[st.Field(i).Name] = true
	}
	var unknown []string
	for name := range r.Properties {
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("properties %v are not understood by the converter; teach samtemplate about them", unknown)
	}
	return nil
}
