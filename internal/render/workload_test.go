package render

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
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
	if ports := w.Service().Spec.Ports; len(ports) != 1 || ports[0].Name != "http" {
		t.Errorf("the issuer Service publishes %v, want only http (metrics stay on the Pods)", ports)
	}
	if !labels.SelectorFromSet(w.Service().Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("Service selector does not match the issuer pods")
	}
	sc := c.SecurityContext
	if !*pod.SecurityContext.RunAsNonRoot || pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" ||
		*sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
		t.Errorf("pod is not locked down: %+v %+v", pod.SecurityContext, sc)
	}
	if pod.SecurityContext.RunAsUser != nil || pod.SecurityContext.RunAsGroup != nil || sc.RunAsUser != nil {
		t.Errorf("a fixed UID (OpenShift's restricted SCC assigns its own): %+v %+v", pod.SecurityContext, sc)
	}
	if spread := pod.TopologySpreadConstraints; len(spread) != 1 || spread[0].TopologyKey != corev1.LabelHostname ||
		spread[0].WhenUnsatisfiable != corev1.ScheduleAnyway ||
		!labels.SelectorFromSet(spread[0].LabelSelector.MatchLabels).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("replicas not spread over nodes (softly): %+v", spread)
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

	if !slices.Contains(c.Args, "--store=kubernetes") {
		t.Errorf("args = %v, want --store=kubernetes by default", c.Args)
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
		if strings.Contains(strings.Join(r.Verbs, ","), "*") || slices.Contains(r.Resources, "*") || slices.Contains(r.APIGroups, "*") {
			t.Errorf("rule with wildcards: %+v", r)
		}
		// Only state records may go unnamed: RBAC cannot limit create by name.
		if len(r.ResourceNames) == 0 && !slices.Equal(r.APIGroups, []string{"state.idtenant.dev"}) {
			t.Errorf("rule without resourceNames: %+v", r)
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
		if got, ok := issuerconfig.LeaseSlot("acme", issuerconfig.LeaseName("acme", i)); !ok || got != i {
			t.Errorf("issuerconfig.LeaseSlot(issuerconfig.LeaseName(acme, %d)) = %d, %v", i, got, ok)
		}
	}
	for _, name := range []string{"acme-issuer", "acme-issuer-", "acme-issuer-01", "acme-issuer--1", "acme-issuer-x", "evil-issuer-0", "acme-issuer-0-1"} {
		if i, ok := issuerconfig.LeaseSlot("acme", name); ok {
			t.Errorf("issuerconfig.LeaseSlot(acme, %q) = %d, want none", name, i)
		}
	}
}

// With the Kubernetes store the issuer may create, read, update and delete
// its state records and nothing more: no list or watch (it finds a record
// by its keyed name, so other tenants' records in the namespace stay out
// of reach), no patch (every write is conditional on resourceVersion).
// With the Memory store it gets no access to them at all.
func TestRoleGrantsStateRecords(t *testing.T) {
	w := Workload{TenantName: "acme", Namespace: "identity", Replicas: 2, ConfigSecrets: []string{"acme-issuer-config"}}
	stateRules := func(w Workload) []rbacv1.PolicyRule {
		var out []rbacv1.PolicyRule
		for _, r := range w.Role().Rules {
			if slices.Contains(r.APIGroups, "state.idtenant.dev") {
				out = append(out, r)
			}
		}
		return out
	}
	for _, typ := range []v1alpha1.StateType{"", v1alpha1.StateKubernetes} {
		w.State = typ
		// Per kind, only what the issuer does: no list, watch or patch
		// anywhere; no delete of codes or revocations (a compromised
		// issuer cannot un-revoke an access token); families are deleted
		// with their session.
		verbs := map[string][]string{}
		for _, r := range stateRules(w) {
			if len(r.ResourceNames) != 0 {
				t.Errorf("state %q: rule names objects: %+v", typ, r)
			}
			for _, res := range r.Resources {
				verbs[res] = append(verbs[res], r.Verbs...)
			}
		}
		want := map[string][]string{
			"sessions":           {"create", "get", "update", "delete"},
			"authorizationcodes": {"create", "get", "update"},
			"refreshfamilies":    {"create", "get", "update", "delete"},
			"revokedtokens":      {"create", "get"},
			"consents":           {"create", "get", "update"},
		}
		for res, v := range want {
			if !slices.Equal(verbs[res], v) {
				t.Errorf("state %q: %s verbs %v, want %v", typ, res, verbs[res], v)
			}
		}
		if len(verbs) != len(want) {
			t.Errorf("state %q: rules for %v", typ, verbs)
		}
	}
	w.State = v1alpha1.StateMemory
	if rules := stateRules(w); len(rules) != 0 {
		t.Errorf("Memory store: the issuer needs no state records, got %+v", rules)
	}
}

// The store is part of the pod template, so changing it rolls the issuer
// pods (a running replica cannot swap its state store), and each value
// reaches the issuer as its --store flag.
func TestStoreFlagRollsPods(t *testing.T) {
	kube := Workload{TenantName: "acme", Namespace: "identity", Image: "idtenant:1", Replicas: 1, State: v1alpha1.StateKubernetes}
	mem := kube
	mem.State = v1alpha1.StateMemory
	def := kube
	def.State = ""
	args := func(w Workload) []string { return w.Deployment().Spec.Template.Spec.Containers[0].Args }
	if !slices.Contains(args(kube), "--store=kubernetes") || !slices.Contains(args(mem), "--store=memory") {
		t.Errorf("args: kubernetes %v, memory %v", args(kube), args(mem))
	}
	if equality.Semantic.DeepEqual(kube.Deployment().Spec.Template, mem.Deployment().Spec.Template) {
		t.Error("changing the store does not change the pod template: the pods would keep the old store")
	}
	if !equality.Semantic.DeepEqual(kube.Deployment().Spec.Template, def.Deployment().Spec.Template) {
		t.Error("the default store must render exactly as an explicit Kubernetes store (no roll on writing the default)")
	}
}

// A stopping issuer serves on for its shutdown delay and then drains; the
// kubelet must not kill it meanwhile, so the grace period covers both.
func TestShutdownDelayAndGracePeriod(t *testing.T) {
	for _, c := range []struct {
		delay time.Duration
		arg   string
		grace int64
	}{
		{0, "--shutdown-delay=5s", 35},
		{15 * time.Second, "--shutdown-delay=15s", 45},
	} {
		spec := Workload{TenantName: "acme", Namespace: "id", Replicas: 2, ShutdownDelay: c.delay}.Deployment().Spec.Template.Spec
		if !slices.Contains(spec.Containers[0].Args, c.arg) {
			t.Errorf("delay %v: args %v, want %s", c.delay, spec.Containers[0].Args, c.arg)
		}
		if g := spec.TerminationGracePeriodSeconds; g == nil || *g != c.grace {
			t.Errorf("delay %v: terminationGracePeriodSeconds %v, want %d", c.delay, g, c.grace)
		}
	}
}

// TestNetworkPolicy (security review N15): with a metrics selector the
// issuer's Pods admit their http port from anywhere and their metrics port
// only from the selected namespaces, by the port names the Deployment
// declares; without one, none is rendered.
func TestNetworkPolicy(t *testing.T) {
	w := Workload{TenantName: "acme", Namespace: "identity", Replicas: 2}
	if w.NetworkPolicy(nil) != nil {
		t.Fatal("a NetworkPolicy without --issuer-metrics-from")
	}
	from := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "monitoring"}}
	np := w.NetworkPolicy(from)
	if np.Name != "acme-issuer" || np.Namespace != "identity" || !reflect.DeepEqual(np.Spec.PodSelector.MatchLabels, w.Deployment().Spec.Selector.MatchLabels) {
		t.Fatalf("NetworkPolicy %s/%s selects %v, want the issuer's Pods", np.Namespace, np.Name, np.Spec.PodSelector.MatchLabels)
	}
	declared := map[string]bool{}
	for _, p := range w.Deployment().Spec.Template.Spec.Containers[0].Ports {
		declared[p.Name] = true
	}
	if len(np.Spec.Ingress) != 2 {
		t.Fatalf("ingress rules %+v", np.Spec.Ingress)
	}
	httpRule, metricsRule := np.Spec.Ingress[0], np.Spec.Ingress[1]
	if httpRule.Ports[0].Port.StrVal != "http" || len(httpRule.From) != 0 || !declared["http"] {
		t.Errorf("http rule %+v: want the http port from anywhere", httpRule)
	}
	if metricsRule.Ports[0].Port.StrVal != "metrics" || !declared["metrics"] || len(metricsRule.From) != 1 ||
		!reflect.DeepEqual(metricsRule.From[0].NamespaceSelector, from) {
		t.Errorf("metrics rule %+v: want the metrics port from the selected namespaces only", metricsRule)
	}
	if len(np.Spec.PolicyTypes) != 1 || np.Spec.PolicyTypes[0] != "Ingress" {
		t.Errorf("policy types %v: want Ingress only (egress reaches the API server and upstreams)", np.Spec.PolicyTypes)
	}
}
