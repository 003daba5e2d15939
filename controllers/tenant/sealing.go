package tenant

import (
	"maps"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// sealingKeysSecretKey holds the Tenant's sealing key ring
// (issuerconfig.SealingKey, JSON) in the signing-keys Secret: unlike the
// state key, these keys rotate (keys.PlanSealing).
const sealingKeysSecretKey = "sealing-keys.json"

// annotationSealingRotation on the signing-keys Secret is the value of the
// Tenant's v1alpha1.AnnotationRotateSealingKey last honoured.
const annotationSealingRotation = "idtenant.dev/sealing-key-rotation"

// sealedRetention is how long a superseded sealing key must still open
// what it sealed: an identity sealed at a login is copied into refresh
// families created as long as the session lives, and each lives its
// refresh absolute lifetime from then. The refresh part is never below the
// default, so that an Application missing for a moment (the longest
// lifetime computed from fewer of them) cannot retire a key for good.
func sealedRetention(obs *tenantObservation) time.Duration {
	refresh := max(obs.served.longestRefresh, lifetime.DefaultRefreshAbsoluteLifetime)
	return obs.effective.Session.Absolute.Duration + refresh + issuerconfig.PendingLifetime + verificationMargin
}

// sealingAnnotations records on the signing-keys Secret the rotation value
// honoured, keeping the Secret's other annotations.
func sealingAnnotations(current map[string]string, rotation string) map[string]string {
	if rotation == "" {
		return current
	}
	out := maps.Clone(current)
	if out == nil {
		out = map[string]string{}
	}
	out[annotationSealingRotation] = rotation
	return out
}

// sealingRotationRequested passes updates that change the Tenant's
// AnnotationRotateSealingKey.
var sealingRotationRequested = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	return e.ObjectOld.GetAnnotations()[v1alpha1.AnnotationRotateSealingKey] != e.ObjectNew.GetAnnotations()[v1alpha1.AnnotationRotateSealingKey]
}}
