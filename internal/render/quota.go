package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	statev1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Default counts of a Tenant's state quota (spec.state.quota): room for
// ~25,000 users signed in on two browsers with two applications each,
// about 250 MB of etcd at ~1.5 KB a record (docs/state.md).
const (
	DefaultQuotaSessions           = 50_000
	DefaultQuotaRefreshFamilies    = 100_000
	DefaultQuotaAuthorizationCodes = 10_000
	DefaultQuotaRevokedTokens      = 20_000
	DefaultQuotaConsents           = 50_000
)

// StateQuotaName is the name of a Tenant's state ResourceQuota.
func StateQuotaName(tenant string) string { return tenant + "-state" }

// StateQuota is the ResourceQuota bounding the state records of the
// Kubernetes store in the Tenant's namespace (security review N1: no
// flood may fill the cluster's etcd); nil when the Tenant keeps state
// elsewhere or disables it.
func (w Workload) StateQuota(q *v1alpha1.StateQuota) *corev1.ResourceQuota {
	if (w.State != "" && w.State != v1alpha1.StateKubernetes) || (q != nil && q.Disabled) {
		return nil
	}
	if q == nil {
		q = &v1alpha1.StateQuota{}
	}
	count := func(resourceName string, set *int64, def int64) (corev1.ResourceName, resource.Quantity) {
		n := def
		if set != nil {
			n = *set
		}
		return corev1.ResourceName("count/" + resourceName + "." + statev1.GroupVersion.Group), *resource.NewQuantity(n, resource.DecimalSI)
	}
	hard := corev1.ResourceList{}
	for _, c := range []struct {
		resource string
		set      *int64
		def      int64
	}{
		{statev1.ResourceSessions, q.Sessions, DefaultQuotaSessions},
		{statev1.ResourceRefreshFamilies, q.RefreshFamilies, DefaultQuotaRefreshFamilies},
		{statev1.ResourceAuthorizationCodes, q.AuthorizationCodes, DefaultQuotaAuthorizationCodes},
		{statev1.ResourceRevokedTokens, q.RevokedTokens, DefaultQuotaRevokedTokens},
		{statev1.ResourceConsents, q.Consents, DefaultQuotaConsents},
	} {
		name, n := count(c.resource, c.set, c.def)
		hard[name] = n
	}
	meta := w.meta()
	meta.Name = StateQuotaName(w.TenantName)
	return &corev1.ResourceQuota{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: meta,
		Spec:       corev1.ResourceQuotaSpec{Hard: hard},
	}
}
