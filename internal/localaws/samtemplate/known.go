package samtemplate

import (
	"fmt"
	"reflect"
	"sort"
)

// resourceProperties decodes the properties of the resource logicalID,
// which must be of type typ, into P, refusing any property P does not name.
func resourceProperties[P any](t *Template, logicalID, typ string) (P, error) {
	var p P
	r, err := t.Resource(logicalID, typ)
	if err != nil {
		return p, err
	}
	if err := knownProperties(r, p); err != nil {
		return p, fmt.Errorf("%s: %w", logicalID, err)
	}
	if err := r.Decode(&p); err != nil {
		return p, fmt.Errorf("%s properties: %w", logicalID, err)
	}
	return p, nil
}

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
