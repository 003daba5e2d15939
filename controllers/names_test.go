package controllers_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/controlplane"
)

// foreignCRD is a minimal copy of another product's CRD: the same group,
// kind and plural, which is all that makes kubectl's names collide.
func foreignCRD(group, kind, plural string, namespaced bool) *apiextensionsv1.CustomResourceDefinition {
	scope := apiextensionsv1.ClusterScoped
	if namespaced {
		scope = apiextensionsv1.NamespaceScoped
	}
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group, Scope: scope,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, Plural: plural, ListKind: kind + "List", Singular: strings.ToLower(kind)},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{Name: "v1alpha1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &preserve}}}},
		},
	}
}

// TestDocumentedNamesReachOurObjects (issue 22): beside Argo CD's
// Application and Capsule's Tenant (minimal copies: same group, kind and
// plural), the names README and docs use — the full ones, the short ones
// and the idtenant category — reach idtenant's objects, while a bare
// "application" may reach the other product's.
func TestDocumentedNamesReachOurObjects(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	crds, err := client.New(restConfig, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	for _, crd := range []*apiextensionsv1.CustomResourceDefinition{
		foreignCRD("argoproj.io", "Application", "applications", true),
		foreignCRD("capsule.clastix.io", "Tenant", "tenants", false),
	} {
		if err := crds.Create(ctx, crd); client.IgnoreAlreadyExists(err) != nil {
			t.Fatal(err)
		}
	}
	ns := newNamespace(t, nil)
	create(t, validTenant(ns), validAPI(ns), validApp(ns, v1alpha1.SinglePage))
	dir, err := controlplane.BinaryDir()
	if err != nil {
		t.Fatal(err)
	}
	kubectl := func(args ...string) (string, error) {
		out, err := exec.Command(filepath.Join(dir, "kubectl"), append([]string{"--kubeconfig", adminKubeconfig}, args...)...).CombinedOutput()
		return string(out), err
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"get", "applications.idtenant.dev", "shopfront", "-n", ns, "-o", "name"}, "application.idtenant.dev/shopfront"},
		{[]string{"get", "idapp", "shopfront", "-n", ns, "-o", "name"}, "application.idtenant.dev/shopfront"},
		{[]string{"get", "apis.idtenant.dev", "orders", "-n", ns, "-o", "name"}, "api.idtenant.dev/orders"},
		{[]string{"get", "idapi", "orders", "-n", ns, "-o", "name"}, "api.idtenant.dev/orders"},
		{[]string{"get", "tenants.idtenant.dev", "acme", "-n", ns, "-o", "name"}, "tenant.idtenant.dev/acme"},
		{[]string{"get", "idt", "acme", "-n", ns, "-o", "name"}, "tenant.idtenant.dev/acme"},
		{[]string{"get", "idtenant", "-n", ns, "-o", "name"}, "application.idtenant.dev/shopfront"},
	} {
		eventually(t, func(g Gomega) {
			out, err := kubectl(c.args...)
			g.Expect(err).NotTo(HaveOccurred(), out)
			g.Expect(out).To(ContainSubstring(c.want), strings.Join(c.args, " "))
		})
	}
	// Why the docs never write the bare name: kubectl picks one of the
	// products, not necessarily ours.
	out, _ := kubectl("api-resources", "--api-group=argoproj.io", "-o", "name")
	NewWithT(t).Expect(out).To(ContainSubstring("applications.argoproj.io"), "the colliding CRD is served")
}
