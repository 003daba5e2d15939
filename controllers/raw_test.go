package controllers_test

import (
	"context"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// rawCreate creates an object from YAML as kubectl would send it, for values
// the typed API cannot represent.
func rawCreate(_ string, doc string) error {
	obj := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
		return err
	}
	return k8s.Create(context.Background(), obj)
}
