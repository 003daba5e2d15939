package controllers

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// renderedIndex says which object generations a configuration generation
// holds, so an Application or API can tell whether its current spec is in
// what the issuer serves.
type renderedIndex struct {
	uid        types.UID // of the Tenant
	generation int64
	objects    map[string]renderedObject // by "Application ns/name" or "API ns/name"
}

type renderedObject struct {
	generation int64  // the object's metadata.generation
	digest     string // of its effective lifetimes
	since      int64  // the config generation that first held both
}

// renderedCache keeps, per tenant, the index of the newest configuration
// and shares it between reconciles: thousands of Applications ask the same
// question about the same document. The Tenant reconciler puts what it
// writes; a document is parsed only when another process wrote it (after
// a restart, or by the leader before this one), once per generation.
type renderedCache struct {
	mu      sync.Mutex
	tenants map[client.ObjectKey]*renderedIndex
	// loading serialises parses per tenant, so concurrent reconciles that
	// miss wait for one parse instead of each doing their own.
	loading map[client.ObjectKey]*sync.Mutex
}

func (c *renderedCache) cached(key client.ObjectKey, uid types.UID, gen int64) *renderedIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Generations only grow (renderConfig never goes back), so an index
	// newer than the cached Secret is what this process just wrote.
	if idx := c.tenants[key]; idx != nil && idx.uid == uid && idx.generation >= gen {
		return idx
	}
	return nil
}

func (c *renderedCache) loadLock(key client.ObjectKey) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loading == nil {
		c.loading = map[client.ObjectKey]*sync.Mutex{}
	}
	if c.loading[key] == nil {
		c.loading[key] = &sync.Mutex{}
	}
	return c.loading[key]
}

// put records doc, just written for tenant, as its newest configuration.
func (c *renderedCache) put(tenant *v1alpha1.Tenant, doc *issuerconfig.Document) {
	idx := indexDocument(tenant.UID, doc)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tenants == nil {
		c.tenants = map[client.ObjectKey]*renderedIndex{}
	}
	if cur := c.tenants[client.ObjectKeyFromObject(tenant)]; cur == nil || cur.uid != idx.uid || cur.generation <= idx.generation {
		c.tenants[client.ObjectKeyFromObject(tenant)] = idx
	}
}

func (c *renderedCache) get(ctx context.Context, r client.Reader, tenant *v1alpha1.Tenant) (*renderedIndex, error) {
	key := client.ObjectKeyFromObject(tenant)
	primary := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: tenant.Namespace, Name: issuerconfig.SecretName(tenant.Name)}, primary)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting issuer config of Tenant %s: %w", key, err)
	}
	gen := configGeneration(primary)
	if idx := c.cached(key, tenant.UID, gen); idx != nil {
		return idx, nil
	}
	lock := c.loadLock(key)
	lock.Lock()
	defer lock.Unlock()
	if idx := c.cached(key, tenant.UID, gen); idx != nil {
		return idx, nil // parsed by the reconcile we waited for
	}
	doc, err := issuerconfig.ReadSecrets(primary, func(name string) (*corev1.Secret, error) {
		s := &corev1.Secret{}
		return s, r.Get(ctx, client.ObjectKey{Namespace: tenant.Namespace, Name: name}, s)
	})
	if err != nil {
		return nil, fmt.Errorf("reading issuer config of Tenant %s: %w", key, err)
	}
	c.put(tenant, doc)
	return c.cached(key, tenant.UID, doc.Generation), nil
}

// indexDocument indexes the objects of doc, a configuration of the Tenant
// with uid.
func indexDocument(uid types.UID, doc *issuerconfig.Document) *renderedIndex {
	idx := &renderedIndex{uid: uid, generation: doc.Generation, objects: make(map[string]renderedObject, len(doc.Applications)+len(doc.APIs))}
	for _, a := range doc.Applications {
		idx.objects["Application "+a.Ref()] = renderedObject{a.Generation, a.EffectiveDigest, cmp.Or(a.RenderedIn, doc.Generation)}
	}
	for _, a := range doc.APIs {
		idx.objects["API "+a.Ref()] = renderedObject{a.Generation, a.EffectiveDigest, cmp.Or(a.RenderedIn, doc.Generation)}
	}
	return idx
}

// servedProblem says why obj's current spec is not yet served by every
// issuer replica, or nil when it is. kind is "Application" or "API".
// digest is the object's effective lifetimes as its own reconcile computed
// them: a change coming from the Tenant or an API is pending too until the
// issuer serves a generation rendered with it.
func servedProblem(ctx context.Context, cache *renderedCache, r client.Reader, tenant *v1alpha1.Tenant, kind string, obj client.Object, digest string) (*problem, error) {
	idx, err := cache.get(ctx, r, tenant)
	if err != nil {
		return nil, err
	}
	ref := obj.GetNamespace() + "/" + obj.GetName()
	if idx == nil {
		return &problem{reason: v1alpha1.ReasonIssuerPending, message: "Waiting for the Tenant to render the issuer configuration."}, nil
	}
	o, ok := idx.objects[kind+" "+ref]
	if !ok || o.generation != obj.GetGeneration() || o.digest != digest {
		return &problem{reason: v1alpha1.ReasonIssuerPending,
			message: fmt.Sprintf("Waiting for the Tenant to render the current lifetimes of this %s (generation %d) into the issuer configuration.", kind, obj.GetGeneration())}, nil
	}
	st := tenant.Status.Issuer
	if st == nil || st.LiveReplicas == 0 {
		return &problem{reason: v1alpha1.ReasonIssuerPending,
			message: fmt.Sprintf("Configuration generation %d holds this %s; no issuer replica is up yet.", o.since, kind)}, nil
	}
	if st.ServedGeneration < o.since {
		return &problem{reason: v1alpha1.ReasonIssuerPending,
			message: fmt.Sprintf("Configuration generation %d holds this %s; the oldest live issuer replica still serves generation %d.", o.since, kind, st.ServedGeneration)}, nil
	}
	return nil, nil
}

// configGeneration is the generation the primary config Secret records (0
// if none or unreadable).
func configGeneration(primary *corev1.Secret) int64 {
	g, _ := strconv.ParseInt(primary.Annotations[annotationGeneration], 10, 64)
	return g
}
