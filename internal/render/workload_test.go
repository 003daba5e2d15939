package render

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/labels"
)

// Scaling a Tenant must not change the issuer's pod template: a changed
// template rolls every replica, and sessions live in their memory.
func TestScalingKeepsPodTemplate(t *testing.T) {
	one := Workload{TenantName: "acme", Namespace: "identity", Image: "idtenant:1", Replicas: 1}
	three := one
	three.Replicas = 3
	if !equality.Semantic.DeepEqual(one.Deployment().Spec.Template, three.Deployment().Spec.Template) {
		t.Errorf("pod template differs between 1 and 3 replicas:\n%+v\n%+v", one.Deployment().Spec.Template, three.Deployment().Spec.Template)
	}
}

func TestWorkload(t *testing.T) {
	w := Workload{TenantName: "acme", Namespace: "identity", Image: "idtenant:1", Replicas: 3,
		ConfigSecrets: []string{"acme-issuer-config", "acme-issuer-config-1"}}

	d := w.Deployment()
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if *d.Spec.Replicas != 3 || d.Name != "acme-issuer" || c.Image != "idtenant:1" || pod.ServiceAccountName != "acme-issuer" {
		t.Errorf("deployment basics: %+v", d.ObjectMeta)
	}
	if !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("Deployment selector does not match its pod template")
	}
	if !labels.SelectorFromSet(w.Service().Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("Service selector does not match the issuer pods")
	}
	sc := c.SecurityContext
	if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" ||
		*sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("pod is not locked down: %+v %+v", pod.SecurityContext, sc)
	}
	if c.ReadinessProbe == nil || c.LivenessProbe == nil || c.Resources.Requests.Cpu().IsZero() {
		t.Error("probes and resource requests are required")
	}
	// The Go runtime's soft limit must sit below the container's hard one,
	// with room for what the runtime does not count (stacks, binary).
	gomemlimit := false
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			gomemlimit = true
			soft := resource.MustParse(strings.TrimSuffix(e.Value, "B")) // 460MiB -> 460Mi
			limit := c.Resources.Limits.Memory()
			if soft.Value() >= limit.Value()*95/100 || soft.Value() < limit.Value()*80/100 {
				t.Errorf("GOMEMLIMIT %s is not 80-95%% of the memory limit %s", e.Value, limit)
			}
		}
	}
	if !gomemlimit {
		t.Error("the issuer container sets no GOMEMLIMIT")
	}
	if len(d.Spec.Template.Annotations) != 0 {
		t.Error("no config hash in the pod template: configuration changes must not restart the issuer")
	}
	if !slices.Contains(c.Args, "--config-secret=acme-issuer-config") || !slices.Contains(c.Args, "--lease-slots=acme-issuer") {
		t.Errorf("args = %v", c.Args)
	}

	role := w.Role()
	secrets, leases := role.Rules[0], role.Rules[1]
	if !slices.Equal(secrets.ResourceNames, w.ConfigSecrets) || slices.Contains(secrets.Verbs, "create") {
		t.Errorf("secrets rule = %+v", secrets)
	}
	if want := []string{"acme-issuer-0", "acme-issuer-1", "acme-issuer-2", "acme-issuer-3"}; !slices.Equal(leases.ResourceNames, want) ||
		!slices.Equal(leases.Verbs, []string{"get", "update"}) {
		t.Errorf("leases rule = %+v, want update on exactly %v", leases, want)
	}
	for _, r := range role.Rules {
		if len(r.ResourceNames) == 0 || strings.Contains(strings.Join(r.Verbs, ","), "*") {
			t.Errorf("rule without resourceNames or with wildcard verbs: %+v", r)
		}
	}
	if rb := w.RoleBinding(); rb.Subjects[0].Name != "acme-issuer" || rb.RoleRef.Name != "acme-issuer" {
		t.Errorf("role binding = %+v", rb)
	}

	if pdb := w.PodDisruptionBudget(); pdb == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("3 replicas need a PDB: %+v", pdb)
	}
	w.Replicas = 1
	if w.PodDisruptionBudget() != nil {
		t.Error("a single replica must not get a PDB: it would block node drains")
	}
}

func TestLeaseSlotInvertsLeaseName(t *testing.T) {
	for i := int32(0); i < 25; i++ {
		if got, ok := LeaseSlot("acme", LeaseName("acme", i)); !ok || got != i {
			t.Errorf("LeaseSlot(LeaseName(acme, %d)) = %d, %v", i, got, ok)
		}
	}
	for _, name := range []string{"acme-issuer", "acme-issuer-", "acme-issuer-01", "acme-issuer--1", "acme-issuer-x", "evil-issuer-0", "acme-issuer-0-1"} {
		if i, ok := LeaseSlot("acme", name); ok {
			t.Errorf("LeaseSlot(acme, %q) = %d, want none", name, i)
		}
	}
}
