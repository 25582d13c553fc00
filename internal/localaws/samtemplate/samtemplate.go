// Package samtemplate reads template.yaml, the single source of truth for the
// stack's resources, and turns its definitions into AWS API inputs, so tests
// and local runs create exactly the tables the deployed stack has.
package samtemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM/CloudFormation template. Short-form intrinsic
// functions (!Ref, !GetAtt, !Sub, ...) are normalised to their long JSON form
// ({"Ref": ...}, {"Fn::GetAtt": [...]}, ...), as CloudFormation itself does.
type Template struct {
	Path       string
	Parameters map[string]Parameter
	// Conditions holds the Conditions section, intrinsics in long form.
	Conditions map[string]any
	// Globals holds the Globals section by resource kind (Function, ...).
	Globals   map[string]map[string]any
	Resources map[string]Resource
}

// Parameter is one entry of the template's Parameters section.
type Parameter struct {
	Type    string `json:"Type"`
	Default any    `json:"Default"`
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	Type           string         `json:"Type"`
	Properties     map[string]any `json:"Properties"`
	Metadata       map[string]any `json:"Metadata"`
	DeletionPolicy string         `json:"DeletionPolicy"`
}

// ErrNoResource is returned when a logical id is not in the template.
var ErrNoResource = errors.New("no such resource in template")

// Load parses the template at path.
func Load(path string) (*Template, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	doc, err := plain(&root)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	var t struct {
		Parameters map[string]Parameter      `json:"Parameters"`
		Conditions map[string]any            `json:"Conditions"`
		Globals    map[string]map[string]any `json:"Globals"`
		Resources  map[string]Resource       `json:"Resources"`
	}
	if err := remarshal(doc, &t); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &Template{Path: path, Parameters: t.Parameters, Conditions: t.Conditions, Globals: t.Globals, Resources: t.Resources}, nil
}

// LoadProject finds template.yaml at the root of the module containing dir
// (the nearest parent holding go.mod) and parses it.
func LoadProject(dir string) (*Template, error) {
	root, err := ProjectRoot(dir)
	if err != nil {
		return nil, err
	}
	return Load(filepath.Join(root, "template.yaml"))
}

// ProjectRoot returns the nearest parent of dir that holds go.mod.
func ProjectRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// Resource returns the resource with the given logical id, checking its type.
func (t *Template) Resource(logicalID, wantType string) (Resource, error) {
	r, ok := t.Resources[logicalID]
	if !ok {
		return Resource{}, fmt.Errorf("%s: %w", logicalID, ErrNoResource)
	}
	if r.Type != wantType {
		return Resource{}, fmt.Errorf("%s is a %s, not a %s", logicalID, r.Type, wantType)
	}
	return r, nil
}

// Decode copies the resource's properties into v through their JSON form.
func (r Resource) Decode(v any) error {
	return remarshal(r.Properties, v)
}

func remarshal(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

// plain converts a YAML node into JSON-shaped Go values.
func plain(n *yaml.Node) (any, error) {
	v, err := untagged(n)
	if err != nil {
		return nil, err
	}
	tag := n.Tag
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") {
		return v, nil
	}
	name := strings.TrimPrefix(tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		// !GetAtt Resource.Attribute is the short form of a two-element list.
		if s, ok := v.(string); ok {
			res, att, found := strings.Cut(s, ".")
			if !found {
				return nil, fmt.Errorf("line %d: !GetAtt %q needs Resource.Attribute", n.Line, s)
			}
			v = []any{res, att}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

func untagged(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return plain(n.Content[0])
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := plain(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := plain(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.AliasNode:
		return plain(n.Alias)
	case yaml.ScalarNode:
		if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}
