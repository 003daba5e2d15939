package serving

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
	status "github.com/idtenant/idtenant/controllers/status"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// renderedIndex says which object generations a configuration generation
// holds, so an Application or API can tell whether its current spec is in
// what the issuer serves.
type renderedIndex struct {
	uid        types.UID // of the Tenant
	generation int64
	Objects    map[string]renderedObject // by "Application ns/name" or "API ns/name"
}

type renderedObject struct {
	Generation int64  // the object's metadata.generation
	Digest     string // of its effective lifetimes
	Since      int64  // the config generation that first held both
}

// RenderedCache keeps, per tenant, the index of the newest configuration
// and shares it between reconciles: thousands of Applications ask the same
// question about the same document. The Tenant reconciler puts what it
// writes; a document is parsed only when another process wrote it (after
// a restart, or by the leader before this one), once per generation.
type RenderedCache struct {
	mu      sync.Mutex
	tenants map[client.ObjectKey]*renderedIndex
	// loading serialises parses per tenant, so concurrent reconciles that
	// miss wait for one parse instead of each doing their own.
	loading map[client.ObjectKey]*sync.Mutex
}

func (c *RenderedCache) cached(key client.ObjectKey, uid types.UID, gen int64) *renderedIndex {
	c.mu.Lock()
	defer c.mu.Unlock()
	// Generations only grow (renderConfig never goes back), so an index
	// newer than the cached Secret is what this process just wrote.
	if idx := c.tenants[key]; idx != nil && idx.uid == uid && idx.generation >= gen {
		return idx
	}
	return nil
}

func (c *RenderedCache) loadLock(key client.ObjectKey) *sync.Mutex {
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

// Put records doc, just written for tenant, as its newest configuration.
func (c *RenderedCache) Put(tenant *v1alpha1.Tenant, doc *issuerconfig.Document) {
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

func (c *RenderedCache) Get(ctx context.Context, r client.Reader, tenant *v1alpha1.Tenant) (*renderedIndex, error) {
	key := client.ObjectKeyFromObject(tenant)
	primary := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: tenant.Namespace, Name: issuerconfig.SecretName(tenant.Name)}, primary)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting issuer config of Tenant %s: %w", key, err)
	}
	gen := ConfigGeneration(primary)
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
	c.Put(tenant, doc)
	return c.cached(key, tenant.UID, doc.Generation), nil
}

// indexDocument indexes the objects of doc, a configuration of the Tenant
// with uid.
func indexDocument(uid types.UID, doc *issuerconfig.Document) *renderedIndex {
	idx := &renderedIndex{uid: uid, generation: doc.Generation, Objects: make(map[string]renderedObject, len(doc.Applications)+len(doc.APIs))}
	for _, a := range doc.Applications {
		idx.Objects["Application "+a.Ref()] = renderedObject{a.Generation, a.EffectiveDigest, cmp.Or(a.RenderedIn, doc.Generation)}
	}
	for _, a := range doc.APIs {
		idx.Objects["API "+a.Ref()] = renderedObject{a.Generation, a.EffectiveDigest, cmp.Or(a.RenderedIn, doc.Generation)}
	}
	return idx
}

// ServedProblem says why obj's current spec is not yet served by every
// issuer replica, or nil when it is. kind is "Application" or "API".
// digest is the object's effective lifetimes as its own reconcile computed
// them: a change coming from the Tenant or an API is pending too until the
// issuer serves a generation rendered with it.
func ServedProblem(ctx context.Context, cache *RenderedCache, r client.Reader, tenant *v1alpha1.Tenant, kind string, obj client.Object, digest string) (*status.Problem, error) {
	idx, err := cache.Get(ctx, r, tenant)
	if err != nil {
		return nil, err
	}
	ref := obj.GetNamespace() + "/" + obj.GetName()
	if idx == nil {
		return &status.Problem{Reason: v1alpha1.ReasonIssuerPending, Message: "Waiting for the Tenant to render the issuer configuration."}, nil
	}
	o, ok := idx.Objects[kind+" "+ref]
	if !ok || o.Generation != obj.GetGeneration() || o.Digest != digest {
		return &status.Problem{Reason: v1alpha1.ReasonIssuerPending,
			Message: fmt.Sprintf("Waiting for the Tenant to render the current lifetimes of this %s (generation %d) into the issuer configuration.", kind, obj.GetGeneration())}, nil
	}
	st := tenant.Status.Issuer
	if st == nil || st.LiveReplicas == 0 {
		return &status.Problem{Reason: v1alpha1.ReasonIssuerPending,
			Message: fmt.Sprintf("Configuration generation %d holds this %s; no issuer replica is up yet.", o.Since, kind)}, nil
	}
	if st.ServedGeneration < o.Since {
		return &status.Problem{Reason: v1alpha1.ReasonIssuerPending,
			Message: fmt.Sprintf("Configuration generation %d holds this %s; the oldest live issuer replica still serves generation %d.", o.Since, kind, st.ServedGeneration)}, nil
	}
	return nil, nil
}

// ConfigGeneration is the generation the primary config Secret records (0
// if none or unreadable).
func ConfigGeneration(primary *corev1.Secret) int64 {
	g, _ := strconv.ParseInt(primary.Annotations[AnnotationGeneration], 10, 64)
	return g
}

// AnnotationGeneration on the primary config Secret is the generation of
// the document it holds, readable without decoding it.
const AnnotationGeneration = "idtenant.dev/config-generation"
