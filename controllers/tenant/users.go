package tenant

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/render"
)

// usersDirectory follows the users Secrets named by Tenants.
//
// Users Secrets are written by people, not by idtenant, so they carry no
// label the manager's Secret cache could select on, and caching every
// Secret of the cluster whole would put all of them in the operator's
// memory. Instead a second cache holds the metadata of Secrets only (name,
// namespace, uid, resourceVersion: about 200 bytes each), which is enough
// to wake a Tenant when its users Secret is created, edited or deleted, and
// to tell a full pass that the Secret it parsed last time is unchanged. The
// data is read from the API server only when the resourceVersion moved: at
// 100 Tenants the read on every full pass was ~850 GETs of an import.
type usersDirectory struct {
	metadata cache.Cache

	mu     sync.Mutex
	parsed map[types.NamespacedName]parsedUsers
	// data holds the connections' client secret Secrets as last read.
	data map[types.NamespacedName]secretData
}

// secretData is one Secret's data as last read.
type secretData struct {
	uid             types.UID
	resourceVersion string
	data            map[string][]byte
	labels          map[string]string
	annotations     map[string]string
}

// parsedUsers is one users Secret as last read: the directory, or why it
// cannot be used.
type parsedUsers struct {
	uid             types.UID
	resourceVersion string
	users           []issuerconfig.User
	err             error
}

var secretGVK = corev1.SchemeGroupVersion.WithKind("Secret")

func secretMetadata() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(secretGVK)
	return m
}

// newUsersDirectory builds the metadata cache (watching tenantNamespaces
// only, when set: users Secrets live beside their Tenant) and adds it to
// the manager, which starts it.
func newUsersDirectory(mgr manager.Manager, tenantNamespaces []string) (*usersDirectory, error) {
	opts := cache.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper(),
		// Keep what identifies a version of the Secret, nothing else:
		// labels and annotations of the cluster's Secrets (Helm stores
		// whole releases in some) are not ours to hold.
		DefaultTransform: func(in any) (any, error) {
			if m, ok := in.(*metav1.PartialObjectMetadata); ok {
				m.ObjectMeta = metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion}
			}
			return in, nil
		}}
	if len(tenantNamespaces) > 0 {
		opts.DefaultNamespaces = make(map[string]cache.Config, len(tenantNamespaces))
		for _, ns := range tenantNamespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, fmt.Errorf("creating the users Secrets' metadata cache: %w", err)
	}
	if err := mgr.Add(c); err != nil {
		return nil, err
	}
	return &usersDirectory{metadata: c, parsed: map[types.NamespacedName]parsedUsers{}, data: map[types.NamespacedName]secretData{}}, nil
}

// source wakes the Tenants that name a Secret when it changes.
func (d *usersDirectory) source(reader client.Reader) source.TypedSource[reconcile.Request] {
	return source.Kind(d.metadata, secretMetadata(),
		handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, s *metav1.PartialObjectMetadata) []reconcile.Request {
			key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
			reqs := serving.ListRequests(ctx, reader, &v1alpha1.TenantList{}, client.MatchingFields{serving.IndexUsersSecret: key.String()})
			if len(reqs) == 0 {
				d.forget(key) // no Tenant names it (any more): keep no hashes of it
			}
			return reqs
		}))
}

// read returns the users in the Secret key, reading its data only when its
// resourceVersion differs from the one parsed last. A NotFound error means
// the Secret does not exist; a parse error is returned as parseErr.
func (d *usersDirectory) read(ctx context.Context, api client.Reader, key types.NamespacedName) (users []issuerconfig.User, parseErr, err error) {
	meta := secretMetadata()
	if err := d.metadata.Get(ctx, key, meta); err == nil {
		d.mu.Lock()
		last, ok := d.parsed[key]
		d.mu.Unlock()
		if ok && last.uid == meta.UID && last.resourceVersion == meta.ResourceVersion {
			return last.users, last.err, nil
		}
	}
	// Not cached yet, deleted, or changed: the API server has the truth.
	// Should the cache lag behind it, the watch event that catches it up
	// wakes the Tenant again.
	secret := &corev1.Secret{}
	if err := api.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			d.forget(key)
		}
		return nil, nil, err
	}
	users, parseErr = render.ParseUsers(secret.Data)
	d.mu.Lock()
	d.parsed[key] = parsedUsers{uid: secret.UID, resourceVersion: secret.ResourceVersion, users: users, err: parseErr}
	d.mu.Unlock()
	return users, parseErr, nil
}

// readData returns the Secret key (a connection's client secret): its
// data, labels and annotations, reading it only when its resourceVersion moved.
func (d *usersDirectory) readData(ctx context.Context, api client.Reader, key types.NamespacedName) (secretData, error) {
	meta := secretMetadata()
	if err := d.metadata.Get(ctx, key, meta); err == nil {
		d.mu.Lock()
		last, ok := d.data[key]
		d.mu.Unlock()
		if ok && last.uid == meta.UID && last.resourceVersion == meta.ResourceVersion {
			return last, nil
		}
	}
	secret := &corev1.Secret{}
	if err := api.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			d.forget(key)
		}
		return secretData{}, err
	}
	read := secretData{uid: secret.UID, resourceVersion: secret.ResourceVersion, data: secret.Data, labels: secret.Labels, annotations: secret.Annotations}
	d.mu.Lock()
	d.data[key] = read
	d.mu.Unlock()
	return read, nil
}

// forget drops what was read from the Secret key.
func (d *usersDirectory) forget(key types.NamespacedName) {
	d.mu.Lock()
	delete(d.parsed, key)
	delete(d.data, key)
	d.mu.Unlock()
}
