package samtemplate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Route is one HttpApi event of a function: the route API Gateway sends to
// it.
type Route struct {
	Function string // the function's logical id
	Event    string // the event's name under Events
	Method   string // upper case; ANY for every method
	Path     string // with {name} and {name+} parameters, as API Gateway takes it
}

// DefaultPath is the catch-all route's path: API Gateway sends it every
// request no other route takes.
const DefaultPath = "$default"

// Key is the route key API Gateway puts in the event: "GET /accounts/{id}",
// or "$default".
func (r Route) Key() string {
	if r.Path == DefaultPath {
		return DefaultPath
	}
	return r.Method + " " + r.Path
}

// Routes returns the HttpApi events of every function, ordered by path
// and method.
func (t *Template) Routes() ([]Route, error) {
	var out []Route
	err := t.eachEvent(func(id, name string, ev functionEvent) error {
		if ev.Type != "HttpApi" {
			return nil
		}
		method, _ := ev.Properties["Method"].(string)
		path, _ := ev.Properties["Path"].(string)
		if path == DefaultPath && method == "" {
			method = "ANY"
		}
		if method == "" || path == "" || !strings.HasPrefix(path, "/") && path != DefaultPath {
			return fmt.Errorf("%s event %s: an HttpApi event needs a Method and a Path starting with / (or the path $default)", id, name)
		}
		out = append(out, Route{Function: id, Event: name, Method: strings.ToUpper(method), Path: path})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Route) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		return strings.Compare(a.Method, b.Method)
	})
	for i := 1; i < len(out); i++ {
		if out[i].Key() == out[i-1].Key() {
			return nil, fmt.Errorf("route %s is declared by %s and %s", out[i].Key(), out[i-1].Function, out[i].Function)
		}
	}
	return out, nil
}

// Functions returns the logical ids of every AWS::Serverless::Function, in
// order.
func (t *Template) Functions() []string {
	var out []string
	for id, r := range t.Resources {
		if r.Type == "AWS::Serverless::Function" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// Physical says what a resource is called where the stack runs: its name
// for Ref (a table's or stream's name, a queue's URL) and its attributes
// for Fn::GetAtt.
type Physical interface {
	Ref(logicalID string) (string, bool)
	GetAtt(logicalID, attribute string) (string, bool)
}

// Environment returns the function's environment variables, Globals first
// and then its own, with Ref and Fn::GetAtt resolved through names and
// parameters at their defaults (or the values in params).
func (t *Template) Environment(function string, names Physical, params map[string]string) (map[string]string, error) {
	r, err := t.Resource(function, "AWS::Serverless::Function")
	if err != nil {
		return nil, err
	}
	vars := map[string]any{}
	global := struct {
		Environment struct{ Variables map[string]any }
	}{}
	if err := remarshal(t.Globals["Function"], &global); err != nil {
		return nil, fmt.Errorf("Globals.Function: %w", err)
	}
	maps.Copy(vars, global.Environment.Variables)
	var own struct {
		Environment struct{ Variables map[string]any }
	}
	if err := r.Decode(&own); err != nil {
		return nil, fmt.Errorf("%s: %w", function, err)
	}
	maps.Copy(vars, own.Environment.Variables)
	out := make(map[string]string, len(vars))
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		s, err := t.resolve(vars[name], names, params)
		if err != nil {
			return nil, fmt.Errorf("%s variable %s: %w", function, name, err)
		}
		out[name] = s
	}
	return out, nil
}

// resolve turns a property value into a string: literals as they are, Ref
// and Fn::GetAtt through names and parameters, Fn::If through the
// template's conditions. Other intrinsics are not resolved here.
func (t *Template) resolve(v any, names Physical, params map[string]string) (string, error) {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if args, ok := m["Fn::If"].([]any); ok {
			if len(args) != 3 {
				return "", fmt.Errorf("Fn::If takes a condition and two values, not %v", args)
			}
			name, _ := args[0].(string)
			holds, err := t.condition(name, names, params, 0)
			if err != nil {
				return "", err
			}
			if holds {
				return t.resolve(args[1], names, params)
			}
			return t.resolve(args[2], names, params)
		}
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool, float64, int:
		return fmt.Sprint(v), nil
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok && len(v) == 1 {
			if p, ok := t.Parameters[ref]; ok {
				if s, ok := params[ref]; ok {
					return s, nil
				}
				if p.Default == nil {
					return "", fmt.Errorf("parameter %s has no default and no value", ref)
				}
				return fmt.Sprint(p.Default), nil
			}
			if s, ok := names.Ref(ref); ok {
				return s, nil
			}
			return "", fmt.Errorf("Ref %s: no such parameter or resource", ref)
		}
		if att, ok := v["Fn::GetAtt"].([]any); ok && len(v) == 1 && len(att) == 2 {
			res, _ := att[0].(string)
			name, _ := att[1].(string)
			if s, ok := names.GetAtt(res, name); ok {
				return s, nil
			}
			return "", fmt.Errorf("Fn::GetAtt %s.%s: unknown", res, name)
		}
	}
	return "", fmt.Errorf("value %v is not a literal, a Ref or an Fn::GetAtt", v)
}

// condition evaluates the named condition of the Conditions section.
func (t *Template) condition(name string, names Physical, params map[string]string, depth int) (bool, error) {
	c, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %q", name)
	}
	if depth > 20 {
		return false, fmt.Errorf("condition %s refers to itself", name)
	}
	return t.evaluate(c, names, params, depth+1)
}

// evaluate evaluates a condition function: Fn::Equals, Fn::Not, Fn::And,
// Fn::Or, or a reference to another condition.
func (t *Template) evaluate(c any, names Physical, params map[string]string, depth int) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("condition %v is not a condition function", c)
	}
	for fn, arg := range m {
		if fn == "Condition" {
			name, _ := arg.(string)
			return t.condition(name, names, params, depth)
		}
		args, ok := arg.([]any)
		if !ok {
			return false, fmt.Errorf("%s takes a list, not %v", fn, arg)
		}
		switch fn {
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes two values, not %v", args)
			}
			a, err := t.resolve(args[0], names, params)
			if err != nil {
				return false, err
			}
			b, err := t.resolve(args[1], names, params)
			return a == b, err
		case "Fn::Not":
			if len(args) != 1 {
				return false, fmt.Errorf("Fn::Not takes one condition, not %v", args)
			}
			holds, err := t.evaluate(args[0], names, params, depth)
			return !holds, err
		case "Fn::And", "Fn::Or":
			and := fn == "Fn::And"
			for _, a := range args {
				holds, err := t.evaluate(a, names, params, depth)
				if err != nil {
					return false, err
				}
				if holds != and {
					return holds, nil
				}
			}
			return and, nil
		}
		return false, fmt.Errorf("condition function %s is not supported", fn)
	}
	panic("unreachable")
}
