package controlplane

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/config"
)

func bufioReader(data []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(data)) }

// ApplySamples server-side applies config/samples/*.yaml in file name order
// (namespaces first) and returns the objects applied.
func ApplySamples(ctx context.Context, c client.Client) ([]*unstructured.Unstructured, error) {
	names, err := fs.Glob(config.Samples, "samples/*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []*unstructured.Unstructured
	for _, name := range names {
		if path.Base(name) == "kustomization.yaml" {
			continue
		}
		data, err := config.Samples.ReadFile(name)
		if err != nil {
			return nil, err
		}
		objs, err := Apply(ctx, c, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		applied = append(applied, objs...)
	}
	return applied, nil
}

// Apply server-side applies every object of a YAML stream.
func Apply(ctx context.Context, c client.Client, data []byte) ([]*unstructured.Unstructured, error) {
	docs, err := SplitYAML(data)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, doc := range docs {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
			return nil, fmt.Errorf("decoding: %w", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := c.Patch(ctx, obj, client.Apply, client.FieldOwner("idtenant-dev"), client.ForceOwnership); err != nil { //nolint:staticcheck // the same server-side apply as kubectl apply --server-side; client.Client.Apply needs apply configurations
			return nil, fmt.Errorf("applying %s %s: %w", obj.GetKind(), strings.TrimPrefix(obj.GetNamespace()+"/"+obj.GetName(), "/"), err)
		}
		out = append(out, obj)
	}
	return out, nil
}
