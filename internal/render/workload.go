package render

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Ports of the issuer container.
const (
	IssuerHTTPPort    = 8080
	IssuerMetricsPort = 9090
)

// Workload describes one tenant's issuer as the operator runs it.
type Workload struct {
	TenantName string
	Namespace  string
	// Image is the idtenant image (the manager's own: one binary).
	Image    string
	Replicas int32
	// ConfigSecrets are the names of the configuration Secrets, primary
	// first: the only Secrets the issuer may read.
	ConfigSecrets []string
	// State is the issuer's state store; Kubernetes when empty.
	State v1alpha1.StateType
	// StateDatabase identifies the PostgreSQL store's database and schema
	// (a keyed digest, never the URL): a new one rolls the issuer pods,
	// which open their pool once, at start.
	StateDatabase string
	// Pod adjusts the Pods (IssuerPod: the Tenant's spec.issuer over the
	// install's defaults).
	Pod v1alpha1.IssuerPodSpec
	// ShutdownDelay is how long a stopping issuer keeps serving, not
	// ready, before it drains (issuerconfig.FlagShutdownDelay);
	// issuerconfig.DefaultShutdownDelay when zero.
	ShutdownDelay time.Duration
}

func (w Workload) shutdownDelay() time.Duration {
	if w.ShutdownDelay > 0 {
		return w.ShutdownDelay
	}
	return issuerconfig.DefaultShutdownDelay
}

func (w Workload) labels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":     "idtenant-issuer",
		"app.kubernetes.io/instance": w.TenantName,
		issuerconfig.LabelManagedBy:  issuerconfig.ManagedByValue,
		issuerconfig.LabelTenant:     w.TenantName,
	}
}

func (w Workload) selector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "idtenant-issuer", issuerconfig.LabelTenant: w.TenantName}
}

func (w Workload) meta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: issuerconfig.IssuerName(w.TenantName), Namespace: w.Namespace, Labels: w.labels()}
}

// ServiceAccount is the issuer's identity.
func (w Workload) ServiceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: w.meta()}
}

// Role lets the issuer read only its own configuration Secrets, renew
// only its own Lease slots and, with the Kubernetes store, create, read
// and (per kind, see below) update or delete state records. RBAC cannot limit create by name, so
// the state rule names no objects; it grants no list, watch or patch: the
// issuer finds a record by its name (a keyed digest only the tenant's
// state key yields), so other tenants' records in the namespace stay out
// of its reach, and every write is an update conditional on
// resourceVersion.
func (w Workload) Role() *rbacv1.Role {
	leases := make([]string, 0, issuerconfig.LeaseSlots(w.Replicas))
	for i := int32(0); i < issuerconfig.LeaseSlots(w.Replicas); i++ {
		leases = append(leases, issuerconfig.LeaseName(w.TenantName, i))
	}
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: w.ConfigSecrets, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: leases, Verbs: []string{"get", "update"}},
	}
	if issuerconfig.StoreFlag(w.State) == issuerconfig.StoreKubernetes {
		// Only the verbs the issuer uses, per kind: it deletes ended
		// sessions and the refresh families bound to them (a deleted
		// family's tokens are as dead as a revoked one's); codes are
		// marked redeemed and consents widened, never deleted; a revocation is never changed or
		// withdrawn — so a compromised issuer cannot un-revoke an access
		// token. The manager's collector deletes expired records.
		rules = append(rules,
			rbacv1.PolicyRule{APIGroups: []string{statev1alpha1.GroupVersion.Group}, Resources: []string{statev1alpha1.ResourceSessions, statev1alpha1.ResourceRefreshFamilies}, Verbs: []string{"create", "get", "update", "delete"}},
			rbacv1.PolicyRule{APIGroups: []string{statev1alpha1.GroupVersion.Group}, Resources: []string{statev1alpha1.ResourceAuthorizationCodes, statev1alpha1.ResourceConsents}, Verbs: []string{"create", "get", "update"}},
			rbacv1.PolicyRule{APIGroups: []string{statev1alpha1.GroupVersion.Group}, Resources: []string{statev1alpha1.ResourceRevokedTokens}, Verbs: []string{"create", "get"}})
	}
	return &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: w.meta(),
		Rules:      rules,
	}
}

// RoleBinding grants the Role to the ServiceAccount.
func (w Workload) RoleBinding() *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: w.meta(),
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: issuerconfig.IssuerName(w.TenantName)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: issuerconfig.IssuerName(w.TenantName), Namespace: w.Namespace}},
	}
}

// Service exposes the issuer inside the cluster on port 80, and nothing
// else: the metrics port stays on the Pods (config/prometheus scrapes them
// with a PodMonitor), so no route to the Service, however written, reaches
// it (security review N15).
func (w Workload) Service() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: w.meta(),
		Spec: corev1.ServiceSpec{
			Selector: w.selector(),
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
}

// PodDisruptionBudget keeps one replica up through voluntary disruptions;
// nil when there is a single replica (a PDB would block node drains).
func (w Workload) PodDisruptionBudget() *policyv1.PodDisruptionBudget {
	if w.Replicas < 2 {
		return nil
	}
	maxUnavailable := intstr.FromInt32(1)
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: w.meta(),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: &maxUnavailable,
			Selector:       &metav1.LabelSelector{MatchLabels: w.selector()},
		},
	}
}

// issuerMemoryLimit is the issuer container's memory limit; the Go runtime
// is told to keep its heap under 90% of it (GOMEMLIMIT below).
const issuerMemoryLimit = "512Mi"

// IssuerRuntimeEnv is the Go runtime tuning of the issuer container, also
// used by the issuer's token benchmark so that it measures the issuer as
// deployed.
//
// Why GOGC=400: the issuer's live heap is small (a few MiB) and its hot
// path allocates ~18 KiB per token, mostly inside crypto/ecdsa, so at the
// default GOGC=100 the collector runs every couple of hundred tokens and
// costs ~8 µs per token — an eighth of everything besides an ES256
// signature (docs/benchmarks.md). The price is a heap that may grow to
// about five times the live data instead of two: little for a small
// issuer. GOMEMLIMIT makes the collector work harder as the heap nears 90%
// of the container's limit, so that headroom never by itself pushes the
// container over it; live data (sessions) beyond the limit still does,
// as it would at any GOGC.
func IssuerRuntimeEnv() []corev1.EnvVar {
	return []corev1.EnvVar{
		{Name: "GOGC", Value: "400"},
		{Name: "GOMEMLIMIT", Value: "460MiB"}, // 90% of issuerMemoryLimit
	}
}

// AnnotationStateDatabase on the issuer's pod template is Workload's
// StateDatabase.
const AnnotationStateDatabase = "idtenant.dev/state-database"

func (w Workload) templateAnnotations() map[string]string {
	out := map[string]string{}
	for k, v := range w.Pod.PodAnnotations {
		if !strings.HasPrefix(k, "idtenant.dev/") {
			out[k] = v
		}
	}
	if w.StateDatabase != "" {
		out[AnnotationStateDatabase] = w.StateDatabase
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// IssuerPod is what a Tenant's issuer Pods get: each field of the Tenant's
// spec.issuer that is set, else the install's default for it.
func IssuerPod(defaults v1alpha1.IssuerPodSpec, tenant *v1alpha1.IssuerPodSpec) v1alpha1.IssuerPodSpec {
	out := *defaults.DeepCopy()
	if tenant == nil {
		return out
	}
	t := tenant.DeepCopy()
	if t.Resources != nil {
		out.Resources = t.Resources
	}
	if t.ImagePullSecrets != nil {
		out.ImagePullSecrets = t.ImagePullSecrets
	}
	if t.NodeSelector != nil {
		out.NodeSelector = t.NodeSelector
	}
	if t.Tolerations != nil {
		out.Tolerations = t.Tolerations
	}
	if t.Affinity != nil {
		out.Affinity = t.Affinity
	}
	if t.TopologySpreadConstraints != nil {
		out.TopologySpreadConstraints = t.TopologySpreadConstraints
	}
	if t.PriorityClassName != "" {
		out.PriorityClassName = t.PriorityClassName
	}
	if t.PodAnnotations != nil {
		out.PodAnnotations = t.PodAnnotations
	}
	return out
}

// resources are the issuer container's: the Pod's override, else the
// defaults below.
func (w Workload) resources() corev1.ResourceRequirements {
	if w.Pod.Resources != nil {
		return *w.Pod.Resources.DeepCopy()
	}
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(issuerMemoryLimit)},
	}
}

// runtimeEnv is IssuerRuntimeEnv with GOMEMLIMIT at 90% of the container's
// memory limit, and without it when there is no limit.
func (w Workload) runtimeEnv() []corev1.EnvVar {
	limit, ok := w.resources().Limits[corev1.ResourceMemory]
	var env []corev1.EnvVar
	for _, e := range IssuerRuntimeEnv() {
		if e.Name != "GOMEMLIMIT" {
			env = append(env, e)
		}
	}
	if ok && !limit.IsZero() {
		env = append(env, corev1.EnvVar{Name: "GOMEMLIMIT", Value: fmt.Sprintf("%dMiB", limit.Value()*9/10>>20)})
	}
	return env
}

// topologySpread is the Pod's override, else replicas on different nodes
// when the cluster can: a node's loss takes one replica, not the Tenant's
// logins.
func (w Workload) topologySpread() []corev1.TopologySpreadConstraint {
	if w.Pod.TopologySpreadConstraints != nil {
		return w.Pod.TopologySpreadConstraints
	}
	return []corev1.TopologySpreadConstraint{{
		MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.ScheduleAnyway,
		LabelSelector: &metav1.LabelSelector{MatchLabels: w.selector()},
	}}
}

// Deployment runs the issuer. The configuration is not in the pod template:
// the issuer follows its Secrets live, so a configuration change never
// restarts pods or drops sessions.
func (w Workload) Deployment() *appsv1.Deployment {
	f := false
	t := true
	maxSurge, maxUnavailable := intstr.FromInt32(1), intstr.FromInt32(0)
	grace := int64(issuerconfig.TerminationGracePeriod(w.shutdownDelay()) / time.Second)
	fieldEnv := func(name, path string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
	}
	probe := func(path string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("http")}},
			PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: w.meta(),
		Spec: appsv1.DeploymentSpec{
			Replicas: &w.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: w.selector()},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &maxSurge, MaxUnavailable: &maxUnavailable}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: w.labels(), Annotations: w.templateAnnotations()},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					ServiceAccountName:            issuerconfig.IssuerName(w.TenantName),
					AutomountServiceAccountToken:  &t,
					// No UID: the image's numeric non-root USER serves, and
					// platforms that assign one per namespace (OpenShift's
					// restricted SCC) may.
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &t,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					TopologySpreadConstraints: w.topologySpread(),
					ImagePullSecrets:          w.Pod.ImagePullSecrets,
					NodeSelector:              w.Pod.NodeSelector,
					Tolerations:               w.Pod.Tolerations,
					Affinity:                  w.Pod.Affinity,
					PriorityClassName:         w.Pod.PriorityClassName,
					Containers: []corev1.Container{{
						Name:  "issuer",
						Image: w.Image,
						Args: []string{
							"issuer",
							"--" + issuerconfig.FlagConfigSecret + "=" + issuerconfig.SecretName(w.TenantName),
							// The slot count is not passed (the issuer probes),
							// so scaling changes no pod template: no restart,
							// no lost sessions.
							"--" + issuerconfig.FlagLeaseSlots + "=" + issuerconfig.IssuerName(w.TenantName),
							// The store is in the pod template: changing it
							// rolls the pods, which a live swap of a
							// replica's state could not do safely.
							"--" + issuerconfig.FlagStore + "=" + issuerconfig.StoreFlag(w.State),
							fmt.Sprintf("--%s=:%d", issuerconfig.FlagListen, IssuerHTTPPort),
							fmt.Sprintf("--%s=:%d", issuerconfig.FlagMetricsListen, IssuerMetricsPort),
							// A stopping replica serves on, not ready, while
							// endpoints drop it, then answers every request
							// in flight before it exits: a rollout loses no
							// response (no refresh retried after a rotation
							// the client never heard of).
							"--" + issuerconfig.FlagShutdownDelay + "=" + w.shutdownDelay().String(),
						},
						Env: append([]corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace")},
							w.runtimeEnv()...),
						Ports: []corev1.ContainerPort{
							{Name: "http", ContainerPort: IssuerHTTPPort, Protocol: corev1.ProtocolTCP},
							{Name: "metrics", ContainerPort: IssuerMetricsPort, Protocol: corev1.ProtocolTCP},
						},
						ReadinessProbe: probe("/ready"),
						LivenessProbe:  probe("/healthz"),
						Resources:      w.resources(),
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &f,
							ReadOnlyRootFilesystem:   &t,
							RunAsNonRoot:             &t,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
}
