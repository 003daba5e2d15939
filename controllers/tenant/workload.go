package tenant

import (
	"context"
	"fmt"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/render"
)

// fieldOwner is the server-side apply manager of everything idtenant renders.
const fieldOwner = client.FieldOwner("idtenant")

// ownedLabels mark the objects a Tenant owns, so the manager caches only
// those and the issuer's Role can name them.
func ownedLabels(tenant *v1alpha1.Tenant) map[string]string {
	return map[string]string{serving.LabelManagedBy: serving.ManagedBy, "idtenant.dev/tenant": tenant.Name}
}

// foreignObjectError: an object already exists where the Tenant would put
// one of its own, and something else controls it. The Tenant never takes it
// over: that would let anyone who can create a Tenant overwrite (and, through
// garbage collection, delete) objects they do not own.
type foreignObjectError struct{ kind, key string }

func (e *foreignObjectError) Error() string {
	return fmt.Sprintf("%s %s exists and is not controlled by this Tenant; rename or delete it so the operator can create its own", e.kind, e.key)
}

// checkOwnership returns a *foreignObjectError when an object with obj's
// name exists and is not controlled by tenant.
func (r *TenantReconciler) checkOwnership(ctx context.Context, tenant *v1alpha1.Tenant, obj client.Object) error {
	existing := obj.DeepCopyObject().(client.Object)
	if err := r.getFresh(ctx, client.ObjectKeyFromObject(obj), existing); err != nil {
		return client.IgnoreNotFound(err)
	}
	if previousIncarnation(existing, tenant) {
		// Left by a deleted Tenant of the same name that the garbage
		// collector has not removed yet: hand it to this Tenant, then apply
		// replaces its content.
		before := existing.DeepCopyObject().(client.Object)
		existing.SetOwnerReferences(nil)
		if err := controllerutil.SetControllerReference(tenant, existing, r.Scheme()); err != nil {
			return err
		}
		if err := r.Patch(ctx, existing, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("releasing %s from a deleted Tenant: %w", client.ObjectKeyFromObject(obj), err)
		}
		return nil
	}
	if !metav1.IsControlledBy(existing, tenant) {
		kind := fmt.Sprintf("%T", obj)
		if gvk := obj.GetObjectKind().GroupVersionKind(); gvk.Kind != "" {
			kind = gvk.Kind
		}
		return &foreignObjectError{kind: kind, key: client.ObjectKeyFromObject(obj).String()}
	}
	return nil
}

// apply server-side applies obj, owned by tenant: drift is repaired on the
// next reconcile and deleting the Tenant deletes it.
func (r *TenantReconciler) apply(ctx context.Context, tenant *v1alpha1.Tenant, obj client.Object) error {
	if err := r.checkOwnership(ctx, tenant, obj); err != nil {
		return err
	}
	if err := controllerutil.SetControllerReference(tenant, obj, r.Scheme()); err != nil {
		return fmt.Errorf("owning %T %s: %w", obj, obj.GetName(), err)
	}
	unchanged, digest, err := r.applied.unchanged(ctx, r.Client, obj)
	if err != nil || unchanged {
		return err
	}
	if err := r.Patch(ctx, obj, client.Apply, fieldOwner, client.ForceOwnership); err != nil { //nolint:staticcheck // client.Client.Apply takes generated apply configurations, which the typed objects applied here do not have
		return fmt.Errorf("applying %T %s: %w", obj, obj.GetName(), err)
	}
	r.applied.remember(obj, digest)
	return nil
}

// applyWorkload owns the issuer's ServiceAccount, Role, RoleBinding,
// Service, Deployment, PodDisruptionBudget and Lease slots.
func (r *TenantReconciler) applyWorkload(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	if obs.config.generation == 0 {
		return nil // nothing to serve yet
	}
	if obs.stateDB != nil && obs.stateDB.database == nil {
		// No PostgreSQL database the operator has vetted yet: the issuer
		// is not started, or keeps the store it has (its Role too), until
		// StateReady.
		return nil
	}
	w := render.Workload{
		TenantName: tenant.Name, Namespace: tenant.Namespace, Image: r.IssuerImage,
		Replicas: obs.effective.Replicas, ConfigSecrets: obs.config.secrets, State: obs.effective.StateType,
		ShutdownDelay: r.IssuerShutdownDelay,
		Pod:           render.IssuerPod(r.IssuerPodDefaults, tenant.Spec.Issuer),
	}
	if obs.stateDB != nil {
		w.StateDatabase = stateDatabaseDigest(obs.stateDB.database, obs.stateKey)
	}
	for _, obj := range []client.Object{w.ServiceAccount(), w.Role(), w.RoleBinding(), w.Service(), w.Deployment()} {
		obj.SetLabels(mergeLabels(obj.GetLabels(), ownedLabels(tenant)))
		if err := r.apply(ctx, tenant, obj); err != nil {
			return err
		}
	}
	if pdb := w.PodDisruptionBudget(); pdb != nil {
		pdb.SetLabels(mergeLabels(pdb.GetLabels(), ownedLabels(tenant)))
		if err := r.apply(ctx, tenant, pdb); err != nil {
			return err
		}
	} else {
		// A single replica needs none (it would block node drains).
		key := client.ObjectKey{Namespace: tenant.Namespace, Name: issuerconfig.IssuerName(tenant.Name)}
		if err := r.deleteOwned(ctx, tenant, key, &policyv1.PodDisruptionBudget{}); err != nil {
			return err
		}
	}
	if err := r.applyStateQuota(ctx, tenant, w); err != nil {
		return err
	}
	if np := w.NetworkPolicy(r.IssuerMetricsFrom); np != nil {
		np.SetLabels(mergeLabels(np.GetLabels(), ownedLabels(tenant)))
		if err := r.apply(ctx, tenant, np); err != nil {
			return err
		}
	} else if err := r.deleteOwned(ctx, tenant, client.ObjectKey{Namespace: tenant.Namespace, Name: issuerconfig.IssuerName(tenant.Name)}, &networkingv1.NetworkPolicy{}); err != nil {
		return err
	}
	obs.deployment = w.Deployment().Name
	return r.ensureLeaseSlots(ctx, tenant, issuerconfig.LeaseSlots(w.Replicas))
}

// ensureLeaseSlots creates the Leases replicas report through. They are
// created once and then written only by the issuer replicas (RBAC cannot
// limit "create" by name, so the issuer may not create them itself).
func (r *TenantReconciler) ensureLeaseSlots(ctx context.Context, tenant *v1alpha1.Tenant, slots int32) error {
	for i := int32(0); i < slots; i++ {
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{
			Name: issuerconfig.LeaseName(tenant.Name, i), Namespace: tenant.Namespace, Labels: ownedLabels(tenant),
		}}
		if err := controllerutil.SetControllerReference(tenant, lease, r.Scheme()); err != nil {
			return err
		}
		if r.Get(ctx, client.ObjectKeyFromObject(lease), &coordinationv1.Lease{}) == nil {
			continue // created before (ours are labelled, so cached)
		}
		if err := r.Create(ctx, lease); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Lease slot %s: %w", lease.Name, err)
		}
	}
	return nil
}

func mergeLabels(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// previousIncarnation reports whether obj is controlled by a Tenant of the
// same name and namespace that is not this one: a deleted predecessor whose
// children the garbage collector has not removed yet. Its content is never
// trusted (keys are regenerated), only its name is reused.
func previousIncarnation(obj client.Object, tenant *v1alpha1.Tenant) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.Kind == "Tenant" && ref.Name == tenant.Name && ref.UID != tenant.UID &&
		strings.HasPrefix(ref.APIVersion, v1alpha1.GroupVersion.Group+"/")
}

// applyStateQuota renders the ResourceQuota bounding the Tenant's state
// records (spec.state.quota), or deletes ours when there should be none.
func (r *TenantReconciler) applyStateQuota(ctx context.Context, tenant *v1alpha1.Tenant, w render.Workload) error {
	var spec *v1alpha1.StateQuota
	if tenant.Spec.State != nil {
		spec = tenant.Spec.State.Quota
	}
	if quota := w.StateQuota(spec); quota != nil {
		quota.SetLabels(mergeLabels(quota.GetLabels(), ownedLabels(tenant)))
		return r.apply(ctx, tenant, quota)
	}
	return r.deleteOwned(ctx, tenant, client.ObjectKey{Namespace: tenant.Namespace, Name: render.StateQuotaName(tenant.Name)}, &corev1.ResourceQuota{})
}
