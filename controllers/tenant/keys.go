package tenant

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/keys"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// keysSecretKey holds the JSON list of keys.Key in the signing-keys Secret.
const keysSecretKey = "keys.json"

// stateKeySecretKey holds the tenant's state key in the signing-keys
// Secret: issuerconfig.StateKeySize random bytes, generated once and never
// rotated. The issuer names state records with keyed digests under it, so
// a new key would orphan every stored session, code and refresh token.
const stateKeySecretKey = "state-key"

// verificationMargin is added to the longest token lifetime before a retired
// key leaves the JWKS: clock skew between issuer and verifiers.
const verificationMargin = 5 * time.Minute

// KeysSecretName is the Secret holding a tenant's signing keys.
func KeysSecretName(tenantName string) string { return tenantName + "-signing-keys" }

// reconcileKeys owns the signing-keys Secret: it generates the first keys and
// steps the rotation (internal/keys.Plan) with the reconciler's clock, and
// generates the tenant's state key once.
func (r *TenantReconciler) reconcileKeys(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	name := client.ObjectKey{Namespace: tenant.Namespace, Name: KeysSecretName(tenant.Name)}
	secret := &corev1.Secret{}
	var current []keys.Key
	var stateKey []byte
	var ring []issuerconfig.SealingKey
	err := r.getFresh(ctx, name, secret)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("getting signing keys Secret %s: %w", name, err)
	case previousIncarnation(secret, tenant):
		// A deleted predecessor's keys: never reused, replaced below. Its
		// state key goes too: the new Tenant starts with no sessions.
		secret.OwnerReferences = nil
		if err := controllerutil.SetControllerReference(tenant, secret, r.Scheme()); err != nil {
			return err
		}
	default:
		if !metav1.IsControlledBy(secret, tenant) {
			// Never sign with keys someone else put there.
			return &foreignObjectError{kind: "Secret", key: name.String()}
		}
		if err := json.Unmarshal(secret.Data[keysSecretKey], &current); err != nil {
			// Never silently replace keys: tokens signed with them would stop
			// verifying. A human must look.
			obs.keysProblem = &status.Problem{Reason: v1alpha1.ReasonKeysInvalid, Stalls: true,
				Message: fmt.Sprintf("Secret %s key %s is not a valid key list (%v); fix or delete it to generate new keys", name, keysSecretKey, err)}
			return nil
		}
		if raw, ok := secret.Data[sealingKeysSecretKey]; ok {
			if err := json.Unmarshal(raw, &ring); err != nil || issuerconfig.ValidateSealingKeys(ring) != nil {
				// Not replaced silently: pending sign-ins and the
				// identities sealed in records would no longer open.
				obs.keysProblem = &status.Problem{Reason: v1alpha1.ReasonKeysInvalid, Stalls: true,
					Message: fmt.Sprintf("Secret %s key %s is not a valid sealing key ring; fix it, or delete that key to generate a new ring (pending sign-ins and connection users' sessions are then lost)", name, sealingKeysSecretKey)}
				return nil //nolint:nilerr // the problem is reported in status; the reconcile itself succeeded
			}
		}
		var present bool
		if stateKey, present = secret.Data[stateKeySecretKey]; present && len(stateKey) != issuerconfig.StateKeySize {
			// Not replaced silently either: a new key logs every user out.
			obs.keysProblem = &status.Problem{Reason: v1alpha1.ReasonKeysInvalid, Stalls: true,
				Message: fmt.Sprintf("Secret %s key %s holds %d bytes, want %d; restore it, or delete that key to generate a new one (every stored session, code and refresh token is then lost)",
					name, stateKeySecretKey, len(stateKey), issuerconfig.StateKeySize)}
			return nil
		}
	}
	// A new Secret, a predecessor's, or one written before state keys
	// existed: generate the key now, once. If the read above was stale the
	// conditional write below fails and the next reconcile reads the key
	// that won.
	newStateKey := stateKey == nil
	if newStateKey {
		stateKey = make([]byte, issuerconfig.StateKeySize)
		if _, err := rand.Read(stateKey); err != nil {
			return fmt.Errorf("generating the state key: %w", err)
		}
	}
	obs.stateKey = stateKey

	policy := keys.Policy{Period: obs.effective.KeyRotationPeriod.Duration, Retention: obs.served.longest + verificationMargin}
	obs.keyPolicy = policy
	planned, changed, err := keys.Plan(current, signingAlgorithms(tenant, obs), r.now(), policy, keys.Generate)
	if err != nil {
		return err
	}
	obs.keys = planned
	rotation := tenant.Annotations[v1alpha1.AnnotationRotateSealingKey]
	sealingPolicy := keys.SealingPolicy{Period: policy.Period, Retention: sealedRetention(obs),
		Rotate: rotation != "" && rotation != secret.Annotations[annotationSealingRotation], Legacy: !newStateKey}
	obs.sealingPolicy = sealingPolicy
	ring, ringChanged, err := keys.PlanSealing(ring, r.now(), sealingPolicy, keys.GenerateSealingKey)
	if err != nil {
		return err
	}
	obs.sealingKeys = ring
	if !changed && !newStateKey && !ringChanged && secret.Name != "" {
		return nil
	}
	data, err := json.Marshal(planned)
	if err != nil {
		return fmt.Errorf("encoding signing keys: %w", err)
	}
	ringData, err := json.Marshal(ring)
	if err != nil {
		return fmt.Errorf("encoding sealing keys: %w", err)
	}
	content := map[string][]byte{keysSecretKey: data, stateKeySecretKey: stateKey, sealingKeysSecretKey: ringData}
	if ringChanged && sealingPolicy.Rotate && r.Recorder != nil {
		r.Recorder.Eventf(tenant, nil, corev1.EventTypeNormal, "SealingKeyRotated", "Rotate",
			"A new sealing key seals from now on (annotation %s); the replaced one opens pending sign-ins for 10 more minutes", v1alpha1.AnnotationRotateSealingKey)
	}
	// Create or Update with the resourceVersion read above, not an apply:
	// if the read was stale, the write fails and the next reconcile plans
	// from the keys actually stored, so a freshly published key is never
	// replaced by another.
	if secret.Name == "" {
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name.Name, Namespace: name.Namespace, Labels: ownedLabels(tenant),
				Annotations: sealingAnnotations(nil, rotation)},
			Type: corev1.SecretTypeOpaque,
			Data: content,
		}
		if err := controllerutil.SetControllerReference(tenant, secret, r.Scheme()); err != nil {
			return err
		}
		if err := r.Create(ctx, secret); err != nil {
			return fmt.Errorf("creating signing keys Secret %s: %w", name, err)
		}
		return nil
	}
	secret.Data = content
	secret.Labels = mergeLabels(secret.Labels, ownedLabels(tenant))
	secret.Annotations = sealingAnnotations(secret.Annotations, rotation)
	if err := r.Update(ctx, secret); err != nil {
		return fmt.Errorf("updating signing keys Secret %s: %w", name, err)
	}
	return nil
}

// signingAlgorithms lists the algorithms in use: the tenant's and those of
// the APIs it serves.
func signingAlgorithms(tenant *v1alpha1.Tenant, obs *tenantObservation) []v1alpha1.SigningAlgorithm {
	algs := []v1alpha1.SigningAlgorithm{obs.effective.SigningAlgorithm}
	t := lifetime.ForTenant(tenant.Name, tenant.Spec)
	for _, api := range obs.served.apis {
		if alg := lifetime.ForAPI(t, api.Namespace, api.Name, api.Spec).SigningAlgorithm; !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	return algs
}

func keyStatus(ks []keys.Key) []v1alpha1.SigningKeyStatus {
	out := make([]v1alpha1.SigningKeyStatus, 0, len(ks))
	for _, k := range ks {
		out = append(out, v1alpha1.SigningKeyStatus{ID: k.ID, Algorithm: k.Algorithm, Role: string(k.Role), CreatedAt: metav1.NewTime(k.CreatedAt)})
	}
	return out
}

func (r *TenantReconciler) getFresh(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	return serving.GetFresh(ctx, r.Client, r.APIReader, key, obj)
}
