// Package openapi holds the ledger's HTTP API contract: the OpenAPI 3.1
// document in api/openapi.yaml, which `make local` serves as JSON and the
// tests hold the template, the handlers and the running stack to
// (openapitest, and Schemathesis in internal/ledger/stacktest). It links
// no OpenAPI library: only tests do.
package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"annals/internal/localaws/samtemplate"
)

// File is the document's path in the project.
const File = "api/openapi.yaml"

// Load reads the document of the project that holds dir and returns it as
// JSON.
func Load(dir string) ([]byte, error) {
	root, err := samtemplate.ProjectRoot(dir)
	if err != nil {
		return nil, err
	}
	src, err := os.ReadFile(filepath.Join(root, File))
	if err != nil {
		return nil, err
	}
	out, err := JSON(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", File, err)
	}
	return out, nil
}

// JSON turns a YAML document into indented JSON, members in the order they
// are written (a renderer shows the routes as the document lists them).
// Every character outside printable ASCII is escaped, so that the
// invisible characters the text patterns name stay visible.
func JSON(src []byte) ([]byte, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc, more yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("not one YAML document")
	}
	var b bytes.Buffer
	if err := writeNode(&b, doc.Content[0]); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func writeNode(b *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.AliasNode:
		return writeNode(b, n.Alias)
	case yaml.MappingNode:
		if n.ShortTag() != "!!map" {
			return fmt.Errorf("line %d: unexpected tag %s", n.Line, n.Tag)
		}
		b.WriteByte('{')
		for i := 0; i < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("line %d: a key must be a plain scalar", k.Line)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k.Value)
			b.WriteByte(':')
			if err := writeNode(b, v); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		if n.ShortTag() != "!!seq" {
			return fmt.Errorf("line %d: unexpected tag %s", n.Line, n.Tag)
		}
		b.WriteByte('[')
		for i, v := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeNode(b, v); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(b, n)
	default:
		return fmt.Errorf("line %d: unexpected YAML node", n.Line)
	}
	return nil
}

func writeScalar(b *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!str", "!!timestamp", "!!binary":
		writeString(b, n.Value)
	case "!!int":
		v, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
		if err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		b.WriteString(strconv.FormatInt(v, 10))
	case "!!float":
		v, err := strconv.ParseFloat(n.Value, 64)
		if err != nil {
			return fmt.Errorf("line %d: %q is no JSON number", n.Line, n.Value)
		}
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return err
		}
		b.WriteString(strconv.FormatBool(v))
	case "!!null":
		b.WriteString("null")
	default:
		return fmt.Errorf("line %d: unexpected tag %s", n.Line, n.Tag)
	}
	return nil
}

// writeString writes s as a JSON string, escaping all but printable ASCII.
func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r >= 0x20 && r < 0x7f:
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}
