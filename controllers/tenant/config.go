package tenant

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/keys"
	"github.com/idtenant/idtenant/internal/render"
)

// annotationContentSHA256 on the primary config Secret is the digest of the
// rendered content without its generation: equal content keeps the
// generation, so reconciles that change nothing write nothing.
const annotationContentSHA256 = "idtenant.dev/content-sha256"

// renderConfig owns the issuer configuration Secrets.
func (r *TenantReconciler) renderConfig(ctx context.Context, tenant *v1alpha1.Tenant, obs *tenantObservation) error {
	if obs.keysProblem != nil || obs.usersProblem != nil {
		return nil // keep serving the last good configuration
	}
	if obs.issuerURLProblem != nil {
		// Not even the last good one may change: a configuration carrying
		// another Tenant's issuer URL is never written.
		return nil
	}
	doc := render.ConfigDocument(render.ConfigInputs{
		Tenant: tenant, Applications: obs.served.apps, SecretDigests: obs.served.digests, PreviousSecrets: obs.served.previous, NextSecrets: obs.served.next,
		APIs: obs.served.apis, Users: obs.users, Keys: keys.ConfigKeys(obs.keys),
		EffectiveDigests: obs.served.effective, StateKey: obs.stateKey, SealingKeys: obs.sealingKeys,
	}, 0, serving.ClientID)
	doc.ConnectionSecrets, doc.ConnectionEpochs = obs.connectionSecrets, obs.connectionEpochs
	if obs.stateDB != nil {
		doc.StateDatabase = obs.stateDB.database
	}
	content, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("encoding issuer config: %w", err)
	}
	sum := sha256.Sum256(content)
	digest := hex.EncodeToString(sum[:])

	primary := &corev1.Secret{}
	key := client.ObjectKey{Namespace: tenant.Namespace, Name: issuerconfig.SecretName(tenant.Name)}
	var generation int64
	switch err := r.getFresh(ctx, key, primary); {
	case apierrors.IsNotFound(err):
	case err != nil:
		return fmt.Errorf("getting issuer config Secret %s: %w", key, err)
	default:
		generation = serving.ConfigGeneration(primary)
		if primary.Annotations[annotationContentSHA256] == digest {
			intact, err := r.configIntact(ctx, primary)
			if err != nil {
				return fmt.Errorf("checking issuer config Secrets of %s: %w", key, err)
			}
			if intact {
				obs.config = configRendered{generation: generation, secrets: shardNames(primary), bytes: secretBytes(primary)}
				return nil
			}
		}
	}

	// Never go backwards, even if the Secret was deleted: replicas and
	// dependents compare generations.
	if st := tenant.Status.Issuer; st != nil {
		generation = max(generation, st.ConfigGeneration, st.ServedGeneration)
	}
	doc.Generation = generation + 1
	if err := r.carryRenderedIn(ctx, tenant, &doc); err != nil {
		return err
	}
	secrets, err := issuerconfig.Secrets(tenant.Name, tenant.Namespace, doc)
	if err != nil {
		return err
	}
	// Shards first, primary last: a reader that sees the new manifest finds
	// every shard already written (and the manifest digest catches the rest).
	for i := len(secrets) - 1; i >= 0; i-- {
		s := secrets[i]
		s.Labels = ownedLabels(tenant)
		if i == 0 {
			s.Annotations = map[string]string{annotationContentSHA256: digest, serving.AnnotationGeneration: strconv.FormatInt(doc.Generation, 10)}
			// Precondition on what was read: a reconcile working from a
			// stale cache fails here instead of writing a second, different
			// document under the same generation number.
			s.ResourceVersion = primary.ResourceVersion
		}
		if err := r.apply(ctx, tenant, s); err != nil {
			return err
		}
	}
	obs.config = configRendered{generation: doc.Generation, secrets: names(secrets), bytes: totalBytes(secrets)}
	r.Rendered.Put(tenant, &doc)
	// What changed for users, never what the configuration holds (keys,
	// hashes, secrets).
	log.FromContext(ctx).Info("issuer configuration rendered", "generation", doc.Generation,
		"applications", len(doc.Applications), "apis", len(doc.APIs), "users", len(doc.Users),
		"connections", len(doc.Tenant.Spec.Connections), "secrets", len(secrets))
	return r.deleteStaleShards(ctx, tenant, len(secrets))
}

// configRendered is what renderConfig reports to status.
type configRendered struct {
	generation int64
	secrets    []string
	bytes      int64
}

// deleteStaleShards removes shards left from a larger configuration.
func (r *TenantReconciler) deleteStaleShards(ctx context.Context, tenant *v1alpha1.Tenant, count int) error {
	var list corev1.SecretList
	if err := r.List(ctx, &list, client.InNamespace(tenant.Namespace), client.MatchingLabels(ownedLabels(tenant))); err != nil {
		return fmt.Errorf("listing config shards: %w", err)
	}
	primary := issuerconfig.SecretName(tenant.Name)
	for i := range list.Items {
		s := &list.Items[i]
		for n := count; n < count+64; n++ {
			if s.Name == fmt.Sprintf("%s-%d", primary, n) {
				if err := r.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
					return fmt.Errorf("deleting stale config shard %s: %w", s.Name, err)
				}
			}
		}
	}
	return nil
}

func shardNames(primary *corev1.Secret) []string {
	var m issuerconfig.Manifest
	if json.Unmarshal(primary.Data[issuerconfig.ManifestKey], &m) != nil {
		return []string{primary.Name}
	}
	return m.Shards
}

func secretBytes(s *corev1.Secret) int64 { return int64(len(s.Data[issuerconfig.DataKey])) }

func totalBytes(secrets []*corev1.Secret) int64 {
	var n int64
	for _, s := range secrets {
		n += secretBytes(s)
	}
	return n
}

func names(secrets []*corev1.Secret) []string {
	out := make([]string, len(secrets))
	for i, s := range secrets {
		out[i] = s.Name
	}
	return out
}

// carryRenderedIn stamps each object with the config generation that first
// held its current spec: kept from the previous document when the object did
// not change, the new generation otherwise. Dependents then become Ready as
// soon as replicas serve that generation, and a change to one Application
// does not send every other one back to Reconciling.
func (r *TenantReconciler) carryRenderedIn(ctx context.Context, tenant *v1alpha1.Tenant, doc *issuerconfig.Document) error {
	prev, err := r.Rendered.Get(ctx, r.Client, tenant)
	if err != nil {
		// An unreadable previous document only costs precision: everything
		// counts as new in this generation.
		prev = nil
	}
	since := func(kind, ref string, objGen int64, digest string) int64 {
		if prev != nil {
			if o, ok := prev.Objects[kind+" "+ref]; ok && o.Generation == objGen && o.Digest == digest {
				return o.Since
			}
		}
		return doc.Generation
	}
	for i := range doc.Applications {
		a := &doc.Applications[i]
		a.RenderedIn = since("Application", a.Ref(), a.Generation, a.EffectiveDigest)
	}
	for i := range doc.APIs {
		a := &doc.APIs[i]
		a.RenderedIn = since("API", a.Ref(), a.Generation, a.EffectiveDigest)
	}
	return nil
}

// configIntact reports whether the stored configuration is whole: every
// shard the manifest names is there and their digest matches. A Secret
// edited or deleted by hand is rewritten (as a new generation) rather than
// left for replicas to refuse. Shards are read from the cache: they are
// written before the primary, so a cache that has the primary has them.
func (r *TenantReconciler) configIntact(ctx context.Context, primary *corev1.Secret) (bool, error) {
	return issuerconfig.Intact(primary, func(name string) (*corev1.Secret, error) {
		shard := &corev1.Secret{}
		err := r.getFresh(ctx, client.ObjectKey{Namespace: primary.Namespace, Name: name}, shard)
		return shard, err
	})
}
