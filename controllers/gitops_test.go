package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/config/argocd"
)

// writeTestdataEnv names the environment variable that makes
// TestKstatusAndArgoCDHealth export what it observed into config/argocd:
//
//	IDTENANT_WRITE_ARGOCD_TESTDATA=1 go test -run TestKstatusAndArgoCDHealth ./controllers/
const writeTestdataEnv = "IDTENANT_WRITE_ARGOCD_TESTDATA"

// gitopsCase is one object in one state, as Flux (kstatus) and Argo CD
// (config/argocd's health.lua) must read it.
type gitopsCase struct {
	file    string // testdata/<file>.yaml
	obj     *unstructured.Unstructured
	kstatus status.Status
	argo    argocd.Health
}

// TestKstatusAndArgoCDHealth drives Tenants, Applications and APIs through
// every state a GitOps tool must tell apart: just created, reconciling,
// stalled (a policy violation), ready, and a spec change the operator has
// not observed yet. For each it checks the verdict of kstatus (what Flux's
// wait: true and kubectl-style waiters use) and of the Argo CD health checks
// in config/argocd, run the way Argo CD runs them, on the object exactly as
// the API server returned it. With IDTENANT_WRITE_ARGOCD_TESTDATA=1 it writes
// those objects and verdicts to config/argocd/idtenant.dev/<Kind>/.
func TestKstatusAndArgoCDHealth(t *testing.T) {
	ctx := context.Background()
	// A fixed namespace, so the exported testdata reads like a real cluster.
	const ns = "gitops"
	create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})

	tenant := validTenant(ns)
	tenant.Spec.IssuerURL = "https://id.acme.example"
	tenant.Spec.Policy = &v1alpha1.LifetimePolicy{Mode: v1alpha1.PolicyReject,
		MaxIDTokenLifetime: d("1h"), MaxAccessTokenLifetime: d("2h")}
	api := validAPI(ns)
	app := validApp(ns, v1alpha1.RegularWeb)
	app.Spec.APIs = []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}

	// Waiting for a Secret that will appear: Reconciling.
	globex := validTenant(ns)
	globex.Name, globex.Spec.IssuerURL = "globex", "https://id.globex.example"
	globex.Spec.UsersSecretRef = &v1alpha1.LocalSecretReference{Name: "globex-users"}
	// A users Secret without the htpasswd key: only a change helps, Stalled.
	initech := validTenant(ns)
	initech.Name, initech.Spec.IssuerURL = "initech", "https://id.initech.example"
	initech.Spec.UsersSecretRef = &v1alpha1.LocalSecretReference{Name: "initech-users"}
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "initech-users", Namespace: ns},
		StringData: map[string]string{"users": "alice:x"}})

	// Above the Tenant's Reject-mode ceilings: PolicyViolation, Stalled.
	greedyApp := validApp(ns, v1alpha1.RegularWeb)
	greedyApp.Name = "backoffice"
	greedyApp.Spec.IDTokenLifetime = d("90m")
	greedyAPI := validAPI(ns)
	greedyAPI.Name, greedyAPI.Spec.Audience = "invoices", "https://invoices.acme.example"
	greedyAPI.Spec.TokenLifetime = d("3h")
	// Waiting for an API or a Tenant that does not exist yet: Reconciling.
	waitingApp := validApp(ns, v1alpha1.MachineToMachine)
	waitingApp.Name = "reports"
	waitingApp.Spec.APIs = []v1alpha1.APIAccess{{Name: "payments"}}
	waitingAPI := validAPI(ns)
	waitingAPI.Name, waitingAPI.Spec.Audience = "ledger", "https://ledger.acme.example"
	waitingAPI.Spec.TenantRef.Name = "umbrella"

	cases := map[string][]gitopsCase{}
	add := func(c gitopsCase) { cases[c.obj.GetKind()] = append(cases[c.obj.GetKind()], c) }

	// Just created: the API server's answer to the create, before any
	// reconcile. Without status.observedGeneration's default of -1 this
	// object has no status and kstatus calls it Current.
	for _, o := range []client.Object{tenant, api, app} {
		u := createUnstructured(t, o)
		if got, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); !found || got != -1 {
			t.Fatalf("%s %s just created: status.observedGeneration = %d (set: %v), want -1 (not yet observed)", u.GetKind(), u.GetName(), got, found)
		}
		add(gitopsCase{file: "new", obj: u, kstatus: status.InProgressStatus,
			argo: argocd.Health{Status: argocd.Progressing, Message: "Waiting for the idtenant operator to observe this " + u.GetKind() + "."}})
	}
	for _, o := range []client.Object{globex, initech, greedyApp, greedyAPI, waitingApp, waitingAPI} {
		createUnstructured(t, o)
	}

	// settled waits until obj reaches the wanted verdicts, then records it.
	settled := func(file string, o client.Object, want status.Status, cond string, argo string) {
		t.Helper()
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvkOf(t, o))
		eventually(t, func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), u)).To(Succeed())
			g.Expect(u.GetGeneration()).To(BeNumerically(">", 0))
			observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
			g.Expect(observed).To(Equal(u.GetGeneration()), "observed")
			g.Expect(kstatusOfUnstructured(g, u)).To(Equal(want))
			g.Expect(conditionOf(u, cond)).NotTo(BeNil(), "condition %s", cond)
		})
		add(gitopsCase{file: file, obj: u, kstatus: want,
			argo: argocd.Health{Status: argo, Message: conditionOf(u, cond).Message}})
	}
	settled("healthy", tenant, status.CurrentStatus, v1alpha1.ConditionReady, argocd.Healthy)
	settled("healthy", api, status.CurrentStatus, v1alpha1.ConditionReady, argocd.Healthy)
	settled("healthy", app, status.CurrentStatus, v1alpha1.ConditionReady, argocd.Healthy)
	settled("reconciling", globex, status.InProgressStatus, v1alpha1.ConditionReconciling, argocd.Progressing)
	settled("reconciling", waitingAPI, status.InProgressStatus, v1alpha1.ConditionReconciling, argocd.Progressing)
	settled("reconciling", waitingApp, status.InProgressStatus, v1alpha1.ConditionReconciling, argocd.Progressing)
	settled("stalled", initech, status.FailedStatus, v1alpha1.ConditionStalled, argocd.Degraded)
	settled("stalled-policy-violation", greedyAPI, status.FailedStatus, v1alpha1.ConditionStalled, argocd.Degraded)
	settled("stalled-policy-violation", greedyApp, status.FailedStatus, v1alpha1.ConditionStalled, argocd.Degraded)
	for _, c := range cases["Application"] {
		if c.file == "stalled-policy-violation" {
			if r := conditionOf(c.obj, v1alpha1.ConditionReady); r.Reason != v1alpha1.ReasonPolicyViolation {
				t.Errorf("backoffice Ready reason %q, want %s", r.Reason, v1alpha1.ReasonPolicyViolation)
			}
		}
	}

	// A spec change, as the API server answers the update: Ready=True still
	// describes the previous generation, so neither tool may call it done.
	for _, o := range []client.Object{tenant, api, app} {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvkOf(t, o))
		eventually(t, func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), u)).To(Succeed())
			switch u.GetKind() {
			case "API":
				g.Expect(unstructured.SetNestedSlice(u.Object, []any{
					map[string]any{"name": "orders:read", "description": "Read the caller's orders."}}, "spec", "scopes")).To(Succeed())
			default:
				g.Expect(unstructured.SetNestedField(u.Object, "Acme "+u.GetName(), "spec", "displayName")).To(Succeed())
			}
			g.Expect(k8s.Update(ctx, u)).To(Succeed())
		})
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		if observed != u.GetGeneration()-1 || conditionOf(u, v1alpha1.ConditionReady).Status != metav1.ConditionTrue {
			t.Fatalf("%s %s after the update: generation %d, observedGeneration %d, Ready %s; want the previous generation, Ready",
				u.GetKind(), u.GetName(), u.GetGeneration(), observed, conditionOf(u, v1alpha1.ConditionReady).Status)
		}
		add(gitopsCase{file: "generation-not-observed", obj: u, kstatus: status.InProgressStatus,
			argo: argocd.Health{Status: argocd.Progressing, Message: fmt.Sprintf(
				"Waiting for the idtenant operator to observe generation %d of this %s (status describes generation %d).",
				u.GetGeneration(), u.GetKind(), observed)}})
	}

	for _, kind := range argocd.Kinds {
		if len(cases[kind]) != 5 {
			t.Fatalf("%s: %d cases, want 5", kind, len(cases[kind]))
		}
		for _, c := range cases[kind] {
			t.Run(kind+"/"+c.file, func(t *testing.T) {
				g := NewWithT(t)
				g.Expect(kstatusOfUnstructured(g, c.obj)).To(Equal(c.kstatus), "kstatus")
				got, err := argocd.Assess(c.obj)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got).To(Equal(c.argo), "Argo CD health")
			})
		}
	}
	if os.Getenv(writeTestdataEnv) != "" {
		writeArgoCDTestdata(t, cases)
	}
}

// createUnstructured creates o as a user's manifest would (no status) and
// returns the API server's answer.
func createUnstructured(t *testing.T, o client.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	u.SetGroupVersionKind(gvkOf(t, o))
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return u
}

func gvkOf(t *testing.T, o client.Object) schema.GroupVersionKind {
	t.Helper()
	gvk, err := k8s.GroupVersionKindFor(o)
	if err != nil {
		t.Fatal(err)
	}
	return gvk
}

func kstatusOfUnstructured(g Gomega, u *unstructured.Unstructured) status.Status {
	res, err := status.Compute(u.DeepCopy())
	g.Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// conditionOf reads a condition from an unstructured idtenant object.
func conditionOf(u *unstructured.Unstructured, typ string) *metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var conds []metav1.Condition
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		if runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c) == nil {
			conds = append(conds, c)
		}
	}
	return meta.FindStatusCondition(conds, typ)
}

// writeArgoCDTestdata writes each case's object (without managedFields, the
// server's bookkeeping) to testdata/ and the verdicts to health_test.yaml,
// in Argo CD's resource_customizations layout.
func writeArgoCDTestdata(t *testing.T, cases map[string][]gitopsCase) {
	t.Helper()
	for kind, cs := range cases {
		dir := filepath.Join("..", "config", "argocd", argocd.Group, kind)
		if err := os.MkdirAll(filepath.Join(dir, "testdata"), 0o755); err != nil {
			t.Fatal(err)
		}
		var tests strings.Builder
		tests.WriteString("# Written by TestKstatusAndArgoCDHealth (controllers/gitops_test.go) from a\n" +
			"# real API server and the operator; config/argocd's tests run health.lua\n" +
			"# on each input the way Argo CD does.\ntests:\n")
		for _, c := range cs {
			obj := c.obj.DeepCopy()
			unstructured.RemoveNestedField(obj.Object, "metadata", "managedFields")
			b, err := yaml.Marshal(obj.Object)
			if err != nil {
				t.Fatal(err)
			}
			path := "testdata/" + c.file + ".yaml"
			if err := os.WriteFile(filepath.Join(dir, path), b, 0o644); err != nil {
				t.Fatal(err)
			}
			// A JSON string is a YAML double-quoted scalar: one line per message.
			msg, err := json.Marshal(c.argo.Message)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&tests, "- healthStatus:\n    status: %s\n    message: %s\n  inputPath: %s\n", c.argo.Status, msg, path)
		}
		if err := os.WriteFile(filepath.Join(dir, "health_test.yaml"), []byte(tests.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote config/argocd testdata for %d kinds", len(cases))
}
