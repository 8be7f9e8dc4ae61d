package manifests

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// EncodeYAML writes objects as a multi-document YAML stream with sorted keys.
func EncodeYAML(objs []*unstructured.Unstructured) ([]byte, error) {
	var buf bytes.Buffer
	for i, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s: %w", o.GetKind(), o.GetName(), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// EncodeJSON writes objects as an indented v1 List, the shape kubectl prints.
func EncodeJSON(objs []*unstructured.Unstructured) ([]byte, error) {
	items := make([]map[string]any, 0, len(objs))
	for _, o := range objs {
		items = append(items, o.Object)
	}
	b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
