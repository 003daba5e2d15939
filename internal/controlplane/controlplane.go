// Package controlplane starts Kubernetes' own test control plane (a real
// kube-apiserver and etcd, no kubelet) through controller-runtime's envtest,
// with idtenant's CRDs installed. `idtenant dev` and the envtest suites both
// use it, so what the tests exercise is what `dev` runs.
package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/config"
)

// KubernetesVersion is the version hack/build-k8s-tools.sh builds.
const KubernetesVersion = "1.37.2"

// ControlPlane is a running kube-apiserver + etcd with the CRDs installed.
type ControlPlane struct {
	env *envtest.Environment
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
}

// BinaryDir finds kube-apiserver and etcd: $KUBEBUILDER_ASSETS if set,
// else bin/k8s/<version> in the repository that contains the caller's
// working directory.
func BinaryDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		candidate := filepath.Join(dir, "bin", "k8s", KubernetesVersion)
		if _, err := os.Stat(filepath.Join(candidate, "kube-apiserver")); err == nil {
			return candidate, nil
		}
		if parent := filepath.Dir(dir); parent == dir {
			break
		}
	}
	return "", fmt.Errorf("kube-apiserver not found under bin/k8s/%s: run `make k8s-tools` (builds it from the Go module proxy) or set KUBEBUILDER_ASSETS", KubernetesVersion)
}

// Start runs a control plane from the binaries in binDir ("" = BinaryDir)
// with this tree's CRDs.
func Start(binDir string) (*ControlPlane, error) {
	crds, err := CRDs()
	if err != nil {
		return nil, err
	}
	return StartWithCRDs(binDir, crds)
}

// StartWithCRDs runs a control plane with the given CRDs installed (an
// older release's, for upgrade tests).
func StartWithCRDs(binDir string, crds []*apiextensionsv1.CustomResourceDefinition) (*ControlPlane, error) {
	if binDir == "" {
		var err error
		if binDir, err = BinaryDir(); err != nil {
			return nil, err
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: binDir,
		CRDs:                  crds,
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		// Start may fail after launching the processes (e.g. a CRD the API
		// server refuses); do not leave them running.
		_ = env.Stop()
		return nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", binDir, err)
	}
	// Reconcilers issue many small requests; the client-go default of 5 qps
	// would dominate every test and the dev loop.
	cfg.QPS, cfg.Burst = 200, 400
	if err := installAdmissionPolicies(cfg); err != nil {
		_ = env.Stop()
		return nil, err
	}
	return &ControlPlane{env: env, Config: cfg}, nil
}

// Stop shuts the control plane down and removes its data.
func (c *ControlPlane) Stop() error {
	return c.env.Stop()
}

// Kubeconfig returns a kubeconfig for an administrator of the control plane.
func (c *ControlPlane) Kubeconfig() ([]byte, error) {
	user, err := c.env.ControlPlane.AddUser(envtest.User{Name: "idtenant-dev", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("creating a kubeconfig user: %w", err)
	}
	return user.KubeConfig()
}

// CRDs decodes the CRDs embedded from config/crd/bases.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var out []*apiextensionsv1.CustomResourceDefinition
	err := fs.WalkDir(config.CRDs, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := config.CRDs.ReadFile(path)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return fmt.Errorf("decoding CRD %s: %w", path, err)
		}
		out = append(out, crd)
		return nil
	})
	return out, err
}

// SplitYAML splits a multi-document YAML stream into its documents.
func SplitYAML(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufioReader(data))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

var namespaceCounter atomic.Int32

// UniqueNamespace is a namespace name for one test: prefix, a fragment of
// the clock (runs sharing a control plane do not collide) and a counter
// (tests of one process do not).
func UniqueNamespace(prefix string) string {
	return fmt.Sprintf("%s%d-%d", prefix, time.Now().UnixNano()%100000, namespaceCounter.Add(1))
}

// installAdmissionPolicies creates the installation's admission policies
// (config/admission), as kubectl apply -k config/default would.
func installAdmissionPolicies(cfg *rest.Config) error {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return err
	}
	return fs.WalkDir(config.AdmissionPolicies, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, "kustomization.yaml") {
			return err
		}
		data, err := config.AdmissionPolicies.ReadFile(path)
		if err != nil {
			return err
		}
		docs, err := SplitYAML(data)
		if err != nil {
			return err
		}
		for _, doc := range docs {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &obj.Object); err != nil {
				return fmt.Errorf("decoding %s: %w", path, err)
			}
			if err := c.Create(context.Background(), obj); err != nil {
				return fmt.Errorf("installing %s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
		}
		return nil
	})
}
