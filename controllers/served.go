package controllers

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/render"
)

// renderedIndex says which object generations a configuration generation
// holds, so an Application or API can tell whether its current spec is in
// what the issuer serves.
type renderedIndex struct {
	generation int64
	objects    map[string]renderedObject // by "Application ns/name" or "API ns/name"
}

type renderedObject struct {
	generation int64  // the object's metadata.generation
	digest     string // of its effective lifetimes
	since      int64  // the config generation that first held both
}

// renderedCache parses each tenant's configuration once per generation and
// shares it between reconciles: thousands of Applications ask the same
// question about the same document.
type renderedCache struct {
	mu      sync.Mutex
	tenants map[client.ObjectKey]*renderedIndex
}

func (c *renderedCache) get(ctx context.Context, r client.Reader, tenant *v1alpha1.Tenant) (*renderedIndex, error) {
	key := client.ObjectKeyFromObject(tenant)
	primary := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: tenant.Namespace, Name: render.ConfigSecretName(tenant.Name)}, primary)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("getting issuer config of Tenant %s: %w", key, err)
	}
	gen := configGeneration(primary)
	c.mu.Lock()
	if idx := c.tenants[key]; idx != nil && idx.generation == gen {
		c.mu.Unlock()
		return idx, nil
	}
	c.mu.Unlock()

	doc, err := render.ReadConfigSecrets(primary, func(name string) (*corev1.Secret, error) {
		s := &corev1.Secret{}
		return s, r.Get(ctx, client.ObjectKey{Namespace: tenant.Namespace, Name: name}, s)
	})
	if err != nil {
		return nil, fmt.Errorf("reading issuer config of Tenant %s: %w", key, err)
	}
	idx := &renderedIndex{generation: doc.Generation, objects: make(map[string]renderedObject, len(doc.Applications)+len(doc.APIs))}
	for _, a := range doc.Applications {
		idx.objects["Application "+a.Ref()] = renderedObject{a.Generation, a.EffectiveDigest, cmp.Or(a.RenderedIn, doc.Generation)}
	}
	for _, a := range doc.APIs {
		idx.objects["API "+a.Ref()] = renderedObject{a.Generation, a.EffectiveDigest, cmp.Or(a.RenderedIn, doc.Generation)}
	}
	c.mu.Lock()
	if c.tenants == nil {
		c.tenants = map[client.ObjectKey]*renderedIndex{}
	}
	c.tenants[key] = idx
	c.mu.Unlock()
	return idx, nil
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
