// Package follow is the issuer's side of the contract in
// internal/issuerconfig: it connects a running issuer to the Kubernetes API,
// follows the tenant's configuration Secrets (a watch, not file polling) and
// reports the generation it serves through a Lease slot, the way kubelets
// report node heartbeats. It must not import the operator's packages
// (internal/render, controllers).
package follow

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Target is what configurations are applied to: the issuer.
type Target interface {
	Swap(*issuerconfig.Document) error
	Generation() int64
}

// Secrets follows the primary configuration Secret of one tenant.
type Secrets struct {
	Client    kubernetes.Interface
	Namespace string
	// Name is the primary Secret; shards are read by the names its manifest
	// lists.
	Name string
	// Retry re-reads after a failed load (a half-written update). Default 2s.
	Retry time.Duration

	mu      sync.Mutex
	lastErr error
}

// LastError is why the newest configuration could not be loaded, or nil.
func (s *Secrets) LastError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *Secrets) setErr(err error) {
	s.mu.Lock()
	s.lastErr = err
	s.mu.Unlock()
}

// Load reads the configuration once, for the issuer's first start.
func (s *Secrets) Load(ctx context.Context) (*issuerconfig.Document, error) {
	primary, err := s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading config Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	return s.read(ctx, primary)
}

func (s *Secrets) read(ctx context.Context, primary *corev1.Secret) (*issuerconfig.Document, error) {
	return issuerconfig.ReadSecrets(primary, func(name string) (*corev1.Secret, error) {
		return s.Client.CoreV1().Secrets(s.Namespace).Get(ctx, name, metav1.GetOptions{})
	})
}

// Run watches the primary Secret and applies every new good generation to
// target until ctx ends. A generation that fails to load or compile is
// reported (LastError) and the target keeps serving the last good one.
func (s *Secrets) Run(ctx context.Context, target Target) error {
	retry := s.Retry
	if retry == 0 {
		retry = 2 * time.Second
	}
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(s.Client, 0,
		informers.WithNamespace(s.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + s.Name }))
	inf := factory.Core().V1().Secrets().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
	}); err != nil {
		return fmt.Errorf("watching config Secret: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	timer := time.NewTimer(retry)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-timer.C:
			if s.LastError() == nil {
				timer.Reset(retry)
				continue
			}
		}
		obj, ok, err := inf.GetStore().GetByKey(s.Namespace + "/" + s.Name)
		switch {
		case err != nil:
			s.setErr(err)
		case !ok:
			s.setErr(fmt.Errorf("config Secret %s/%s does not exist", s.Namespace, s.Name))
		default:
			s.setErr(s.apply(ctx, obj.(*corev1.Secret), target))
		}
		timer.Reset(retry)
	}
}

func (s *Secrets) apply(ctx context.Context, primary *corev1.Secret, target Target) error {
	doc, err := s.read(ctx, primary)
	if err != nil {
		return err
	}
	// Any other generation is taken, lower ones too: the Secret is the
	// source of truth, and one recreated from scratch starts again at 1.
	if doc.Generation == target.Generation() {
		return nil
	}
	return target.Swap(doc)
}
