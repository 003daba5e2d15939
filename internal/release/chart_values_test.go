package release

import (
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// renderAll runs `helm template` with values and returns every object but
// the CRDs, in order (several may share a kind and name in different
// namespaces).
func renderAll(t *testing.T, values ...string) []*unstructured.Unstructured {
	t.Helper()
	return helmTemplate(t, false, values...)
}

// helmTemplate runs `helm template` on dist/chart in the install namespace
// with values (and the CRDs when crds) and returns the objects.
func helmTemplate(t *testing.T, crds bool, values ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "idtenant", chartDir, "--namespace", InstallNamespace}
	if crds {
		args = append(args, "--include-crds")
	}
	for _, v := range values {
		args = append(args, "--set", v)
	}
	out, err := exec.Command(helm(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	objs, err := Objects(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func managerArgs(t *testing.T, objs []*unstructured.Unstructured) string {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			return strings.Join(toStrings(containers[0].(map[string]any)["args"]), " ")
		}
	}
	t.Fatal("no Deployment")
	return ""
}

// TestChartTenantNamespaces (security review N14): with tenantNamespaces
// the chart grants the manager its rights for Tenants in those namespaces
// only — the RoleBinding config/tenant-namespaces installs, once per
// namespace — drops the cluster-wide binding, and tells the manager where
// Tenants may live.
func TestChartTenantNamespaces(t *testing.T) {
	objs := renderAll(t, "tenantNamespaces={identity,payments}", "allowedClusterIssuers={letsencrypt}",
		"allowedIngressAnnotations={cert-manager.io/*,nginx.ingress.kubernetes.io/proxy-read-timeout}")
	want, err := os.ReadFile("../../config/tenant-namespaces/rolebindings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantObjs, err := Objects(want)
	if err != nil || len(wantObjs) != 1 {
		t.Fatalf("config/tenant-namespaces/rolebindings.yaml: %v %v", wantObjs, err)
	}
	var bound []string
	for _, o := range objs {
		switch {
		case o.GetKind() == "ClusterRoleBinding" && o.GetName() == tenantsBinding:
			t.Errorf("ClusterRoleBinding %s rendered with tenantNamespaces: the manager may still write in every namespace", o.GetName())
		case o.GetKind() == "RoleBinding" && o.GetName() == tenantsBinding:
			bound = append(bound, o.GetNamespace())
			w := wantObjs[0].DeepCopy()
			w.SetNamespace(o.GetNamespace())
			if got := withoutHelmMetadata(t, o); !reflect.DeepEqual(got.Object, w.Object) {
				t.Errorf("RoleBinding in %s:\n%v\nwant as config/tenant-namespaces:\n%v", o.GetNamespace(), got.Object, w.Object)
			}
		}
	}
	if !reflect.DeepEqual(bound, []string{"identity", "payments"}) {
		t.Errorf("RoleBindings %s in %v, want identity and payments", tenantsBinding, bound)
	}
	args := managerArgs(t, objs)
	for _, want := range []string{"--tenant-namespaces=identity,payments", "--allowed-cluster-issuers=letsencrypt",
		"--allowed-ingress-annotations=cert-manager.io/*,nginx.ingress.kubernetes.io/proxy-read-timeout"} {
		if !strings.Contains(args, want) {
			t.Errorf("manager args %s: want %s", args, want)
		}
	}
}

// TestChartMetricsTLSAndNetworkPolicy (security review N15): with a
// serving certificate Secret the manager serves it and the ServiceMonitor
// verifies it against its CA instead of skipping verification; the
// NetworkPolicy admits only the metrics port, from the namespaces chosen.
func TestChartMetricsTLSAndNetworkPolicy(t *testing.T) {
	objs := renderAll(t, "metrics.tls.secretName=manager-metrics-tls", "metrics.serviceMonitor.enabled=true",
		"networkPolicy.enabled=true", "networkPolicy.metricsFrom.matchLabels.team=observability")
	if args := managerArgs(t, objs); !strings.Contains(args, "--metrics-cert-dir=/var/run/idtenant/metrics-tls") ||
		!strings.Contains(args, "--issuer-metrics-from=kubernetes.io/metadata.name=monitoring,team=observability") {
		t.Errorf("manager args %s: want --metrics-cert-dir and the issuers' --issuer-metrics-from", args)
	}
	var sm, np, dep *unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceMonitor":
			sm = o
		case "NetworkPolicy":
			np = o
		case "Deployment":
			dep = o
		}
	}
	volumes, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "volumes")
	if len(volumes) != 1 || volumes[0].(map[string]any)["secret"].(map[string]any)["secretName"] != "manager-metrics-tls" {
		t.Errorf("Deployment volumes %v: want the metrics TLS Secret", volumes)
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	tlsConfig := endpoints[0].(map[string]any)["tlsConfig"].(map[string]any)
	if tlsConfig["insecureSkipVerify"] != nil || tlsConfig["serverName"] != "idtenant-manager-metrics."+InstallNamespace+".svc" {
		t.Errorf("ServiceMonitor tlsConfig %v: want verification against the Secret's CA", tlsConfig)
	}
	if ca, _, _ := unstructured.NestedString(tlsConfig, "ca", "secret", "name"); ca != "manager-metrics-tls" {
		t.Errorf("ServiceMonitor CA from %q", ca)
	}
	if np == nil {
		t.Fatal("no NetworkPolicy with networkPolicy.enabled")
	}
	ingress, _, _ := unstructured.NestedSlice(np.Object, "spec", "ingress")
	if len(ingress) != 1 {
		t.Fatalf("NetworkPolicy ingress %v: want one rule", ingress)
	}
	rule := ingress[0].(map[string]any)
	if ports := rule["ports"].([]any); len(ports) != 1 || ports[0].(map[string]any)["port"] != "metrics" {
		t.Errorf("NetworkPolicy ports %v: want the metrics port only", ports)
	}
	if team, _, _ := unstructured.NestedString(rule["from"].([]any)[0].(map[string]any), "namespaceSelector", "matchLabels", "team"); team != "observability" {
		t.Errorf("NetworkPolicy from %v", rule["from"])
	}

	// Without namespaces to admit metrics from, the chart refuses rather
	// than leave the issuers without a NetworkPolicy.
	if out, err := exec.Command(helm(t), "template", "idtenant", chartDir, "--set", "networkPolicy.enabled=true",
		"--set", "networkPolicy.metricsFrom.matchLabels=null").CombinedOutput(); err == nil || !strings.Contains(string(out), "needs networkPolicy.metricsFrom.matchLabels") {
		t.Errorf("networkPolicy without matchLabels: %v\n%s", err, out)
	}

	// Without a Secret, nothing is verified (the certificate is
	// self-signed) and the chart says so.
	for _, o := range renderAll(t, "metrics.serviceMonitor.enabled=true") {
		if o.GetKind() == "ServiceMonitor" {
			endpoints, _, _ := unstructured.NestedSlice(o.Object, "spec", "endpoints")
			if endpoints[0].(map[string]any)["tlsConfig"].(map[string]any)["insecureSkipVerify"] != true {
				t.Errorf("default ServiceMonitor %v", endpoints)
			}
		}
	}
}

// TestChartPodSettings (issue 22): the manager Pod's scheduling, registry,
// metadata and extra flags come from values, each where Kubernetes reads it.
func TestChartPodSettings(t *testing.T) {
	objs := renderAll(t, "imagePullSecrets[0].name=regcred", "nodeSelector.zone=a", "tolerations[0].key=dedicated",
		"tolerations[0].operator=Exists", "priorityClassName=system-cluster-critical", "podAnnotations.owner=platform",
		"podLabels.team=identity", "extraArgs[0]=--zap-log-level=debug", "extraEnv[0].name=HTTPS_PROXY",
		"extraEnv[0].value=http://proxy.internal:3128", "topologySpreadConstraints[0].maxSkew=1",
		"topologySpreadConstraints[0].topologyKey=topology.kubernetes.io/zone", "topologySpreadConstraints[0].whenUnsatisfiable=ScheduleAnyway",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=arch",
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists")
	var dep *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			dep = o
		}
	}
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template")
	get := func(...string) any { return pod }
	for path, want := range map[string]any{
		"spec.imagePullSecrets.0.name":                 "regcred",
		"spec.nodeSelector.zone":                       "a",
		"spec.tolerations.0.key":                       "dedicated",
		"spec.priorityClassName":                       "system-cluster-critical",
		"metadata.annotations.owner":                   "platform",
		"metadata.labels.team":                         "identity",
		"metadata.labels.app.kubernetes.io/name":       "idtenant",
		"spec.topologySpreadConstraints.0.topologyKey": "topology.kubernetes.io/zone",
		"spec.affinity.nodeAffinity":                   "present",
		"spec.containers.0.env.2.name":                 "HTTPS_PROXY",
		"spec.containers.0.args.-1":                    "--zap-log-level=debug",
	} {
		if got := pathValue(get, path); got != want && !(want == "present" && got != nil) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	// The selector stays the chart's: extra Pod labels never orphan Pods.
	if sel, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "selector", "matchLabels"); sel["team"] != "" {
		t.Errorf("podLabels reached the selector: %v", sel)
	}
}

// pathValue reads a dotted path (list indexes as numbers, -1 the last; a
// label key's own dots and slashes kept whole) through get.
func pathValue(get func(...string) any, path string) any {
	parts := strings.Split(path, ".")
	if len(parts) > 2 && (parts[1] == "labels" || parts[1] == "annotations") {
		parts = []string{parts[0], parts[1], strings.Join(parts[2:], ".")}
	}
	cur := get()
	for _, p := range parts {
		switch v := cur.(type) {
		case map[string]any:
			cur = v[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || len(v) == 0 {
				return nil
			}
			if i < 0 {
				i = len(v) + i
			}
			if i >= len(v) {
				return nil
			}
			cur = v[i]
		default:
			return nil
		}
	}
	return cur
}

// TestChartRefusesUnknownValues (issue 22): values.schema.json refuses a
// misspelt or wrongly typed value instead of ignoring it.
func TestChartRefusesUnknownValues(t *testing.T) {
	for _, v := range []string{"replica=2", "metrics.serviceMonitor.enable=true", "replicas=two", "extraArgs[0]=zap-log-level=debug", "tenantNamespaces[0]=Identity"} {
		out, err := exec.Command(helm(t), "template", "idtenant", chartDir, "--set", v).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "schema") {
			t.Errorf("--set %s: %v\n%s", v, err, out)
		}
	}
}

// TestChartManagerDisruptionBudget: with two manager replicas (the
// default) a drain keeps one; a single replica gets no budget, which would
// block every drain of its node.
func TestChartManagerDisruptionBudget(t *testing.T) {
	count := func(values ...string) int {
		n := 0
		for _, o := range renderAll(t, values...) {
			if o.GetKind() == "PodDisruptionBudget" {
				n++
			}
		}
		return n
	}
	if n := count(); n != 1 {
		t.Errorf("two replicas: %d PodDisruptionBudgets, want 1", n)
	}
	if n := count("replicas=1", "leaderElection=false"); n != 0 {
		t.Errorf("one replica: %d PodDisruptionBudgets, want none", n)
	}
}

// TestChartCRDs: the CRDs are templates, so `helm upgrade` updates them (a
// chart's crds/ directory is installed once and never upgraded); they are
// kept on uninstall unless crds.keep is false, and left out entirely with
// crds.enabled false (managed some other way).
func TestChartCRDs(t *testing.T) {
	crds := func(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
		out := map[string]*unstructured.Unstructured{}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				out[o.GetName()] = o
			}
		}
		return out
	}
	want := 0
	for key := range installed(t) {
		if strings.HasPrefix(key, "CustomResourceDefinition/") {
			want++
		}
	}
	def := crds(renderAll(t))
	if len(def) != want || want == 0 {
		t.Fatalf("%d CRDs rendered by default, dist/install.yaml has %d", len(def), want)
	}
	for name, o := range def {
		if o.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s is deleted by helm uninstall (and every object of its kind with it): no keep annotation", name)
		}
		if o.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" || o.GetLabels()["helm.sh/chart"] == "" {
			t.Errorf("CRD %s labels %v: want the chart's standard labels", name, o.GetLabels())
		}
	}
	for name, o := range crds(renderAll(t, "crds.keep=false")) {
		if _, ok := o.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("CRD %s kept with crds.keep=false", name)
		}
	}
	if got := crds(renderAll(t, "crds.enabled=false")); len(got) != 0 {
		t.Errorf("%d CRDs rendered with crds.enabled=false", len(got))
	}
}

// TestChartMonitoring: the ServiceMonitor authenticates with the scraper
// ServiceAccount's token (authorization, not a token file of Prometheus'
// own), which may get /metrics and nothing else, and verifies the
// certificate when one is given; the issuers' PodMonitor and the example
// alerts are switches, the alerts the very rules of
// config/prometheus/rules.yaml.
func TestChartMonitoring(t *testing.T) {
	if got := byKindName(renderAll(t)); got["ServiceMonitor/idtenant-manager"] != nil || got["PodMonitor/idtenant-issuers"] != nil || got["PrometheusRule/idtenant"] != nil || got["ServiceAccount/idtenant-metrics-scraper"] != nil {
		t.Fatal("monitoring objects rendered by default: they need the Prometheus Operator's CRDs")
	}
	objs := byKindName(renderAll(t, "metrics.serviceMonitor.enabled=true", "metrics.tls.secretName=metrics-tls",
		"metrics.podMonitor.enabled=true", "metrics.podMonitor.labels.release=kp", "prometheusRule.enabled=true", "prometheusRule.labels.release=kp"))
	sm := objs["ServiceMonitor/idtenant-manager"]
	if sm == nil {
		t.Fatal("no ServiceMonitor")
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	ep := endpoints[0].(map[string]any)
	if _, ok := ep["bearerTokenFile"]; ok {
		t.Error("the ServiceMonitor still reads Prometheus' own token file")
	}
	if name, _, _ := unstructured.NestedString(ep, "authorization", "credentials", "name"); name != "idtenant-metrics-scraper-token" {
		t.Errorf("authorization %v: want the scraper's token Secret", ep["authorization"])
	}
	if skip, _, _ := unstructured.NestedBool(ep, "tlsConfig", "insecureSkipVerify"); skip {
		t.Error("the certificate is not verified though metrics.tls.secretName is set")
	}
	if ca, _, _ := unstructured.NestedString(ep, "tlsConfig", "ca", "secret", "name"); ca != "metrics-tls" {
		t.Errorf("tlsConfig %v: want the CA of metrics-tls", ep["tlsConfig"])
	}
	secret := objs["Secret/idtenant-metrics-scraper-token"]
	if secret == nil || secret.Object["type"] != "kubernetes.io/service-account-token" || secret.GetAnnotations()["kubernetes.io/service-account.name"] != "idtenant-metrics-scraper" {
		t.Errorf("scraper token Secret %v", secret)
	}
	binding := objs["ClusterRoleBinding/idtenant-metrics-scraper-"+InstallNamespace]
	if role, _, _ := unstructured.NestedString(binding.Object, "roleRef", "name"); role != "idtenant-metrics-reader" {
		t.Errorf("the scraper is bound to %q, want idtenant-metrics-reader only", role)
	}
	pm := objs["PodMonitor/idtenant-issuers"]
	if pm == nil || pm.GetLabels()["release"] != "kp" {
		t.Fatalf("PodMonitor %v", pm)
	}
	if sel, _, _ := unstructured.NestedString(pm.Object, "spec", "selector", "matchLabels", "app.kubernetes.io/name"); sel != "idtenant-issuer" {
		t.Errorf("PodMonitor selects %q, want the issuer Pods", sel)
	}
	rule := objs["PrometheusRule/idtenant"]
	if rule == nil || rule.GetLabels()["release"] != "kp" || rule.GetNamespace() != InstallNamespace {
		t.Fatalf("PrometheusRule %v", rule)
	}
	data, err := os.ReadFile("../../config/prometheus/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Objects(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rule.Object["spec"], want[0].Object["spec"]) {
		t.Error("the chart's alerts differ from config/prometheus/rules.yaml (Prometheus templates mangled by Helm?)")
	}
}

// TestChartNotesRender: NOTES.txt renders (helm lint renders it) with each
// of its branches taken.
func TestChartNotesRender(t *testing.T) {
	for _, set := range [][]string{nil, {"tenantNamespaces={identity}", "crds.enabled=false", "crds.keep=false", "metrics.serviceMonitor.enabled=true"}} {
		args := []string{"lint", "--strict", chartDir}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		if out, err := exec.Command(helm(t), args...).CombinedOutput(); err != nil {
			t.Errorf("helm lint with %v: %v\n%s", set, err, out)
		}
	}
}

// TestChartIssuerPods: issuerPods reaches the manager as
// --issuer-pod-defaults, JSON the manager parses into a Tenant's
// spec.issuer fields; an unknown key is refused by the schema.
func TestChartIssuerPods(t *testing.T) {
	args := managerArgs(t, renderAll(t, "issuerPods.nodeSelector.pool=identity", "issuerPods.imagePullSecrets[0].name=regcred"))
	want := `--issuer-pod-defaults={"imagePullSecrets":[{"name":"regcred"}],"nodeSelector":{"pool":"identity"}}`
	if !strings.Contains(args, want) {
		t.Errorf("manager args %s: want %s", args, want)
	}
	if strings.Contains(managerArgs(t, renderAll(t)), "--issuer-pod-defaults") {
		t.Error("--issuer-pod-defaults rendered without issuerPods")
	}
	out, err := exec.Command(helm(t), "template", "idtenant", chartDir, "--set", "issuerPods.nodeSelectr.pool=x").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nodeSelectr") {
		t.Errorf("a misspelt issuerPods key was accepted: %v\n%s", err, out)
	}
}
