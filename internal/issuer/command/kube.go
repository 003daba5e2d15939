package command

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/client/config"

	"github.com/idtenant/idtenant/internal/follow"
	"github.com/idtenant/idtenant/internal/issuer"
	"github.com/idtenant/idtenant/internal/issuer/store"
	kubestore "github.com/idtenant/idtenant/internal/issuer/store/kube"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// kubeSource is the issuer's configuration when it runs as the operator
// renders it: the config Secrets followed through the Kubernetes API, and a
// Lease slot to report the generation served. The pod's namespace and name
// come from the Downward API ($POD_NAMESPACE, $POD_NAME).
type kubeSource struct {
	config    *rest.Config
	namespace string
	secrets   *follow.Secrets
	leases    *follow.Leases
	log       *slog.Logger
}

// newKubeSource connects with the pod's ServiceAccount (in-cluster, or
// $KUBECONFIG as `idtenant dev` provides) and loads the first generation.
func newKubeSource(ctx context.Context, secretName, leaseSlots string, log *slog.Logger) (*kubeSource, *issuerconfig.Document, error) {
	namespace, pod := os.Getenv("POD_NAMESPACE"), os.Getenv("POD_NAME")
	if namespace == "" || pod == "" {
		return nil, nil, errors.New("--config-secret needs $POD_NAMESPACE and $POD_NAME (the Deployment sets them from the Downward API)")
	}
	cfg, err := ctrlconfig.GetConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the Kubernetes API: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the Kubernetes API: %w", err)
	}
	k := &kubeSource{config: cfg, namespace: namespace, secrets: &follow.Secrets{Client: cs, Namespace: namespace, Name: secretName}, log: log}
	if leaseSlots != "" {
		// PREFIX probes the slots (what the Deployment passes); PREFIX:COUNT
		// names them, as issuers rendered before probing existed did.
		prefix, n, counted := strings.Cut(leaseSlots, ":")
		slots := 0
		if counted {
			if slots, err = strconv.Atoi(n); err != nil || slots < 1 {
				return nil, nil, fmt.Errorf("--lease-slots %q: want PREFIX or PREFIX:COUNT with COUNT ≥ 1", leaseSlots)
			}
		}
		if prefix == "" {
			return nil, nil, fmt.Errorf("--lease-slots %q: the prefix is empty", leaseSlots)
		}
		k.leases = &follow.Leases{Client: cs, Namespace: namespace, Prefix: prefix, Slots: int32(slots), Identity: pod,
			OnError: func(err error) {
				log.Error("reporting through the Lease slot failed; the operator cannot count this replica", "error", err)
			}}
	}
	doc, err := k.secrets.Load(ctx)
	if err != nil {
		return nil, nil, err
	}
	return k, doc, nil
}

// openStore opens the tenant's state in the pod's namespace: records owned
// by the Tenant, named with its state key.
func (k *kubeSource) openStore(doc *issuerconfig.Document) (store.Store, error) {
	if doc.TenantUID == "" || len(doc.StateKey) == 0 {
		return nil, errors.New("--store=kubernetes: the issuer configuration carries no tenant UID or state key; the operator that rendered it is older than this issuer")
	}
	st, err := kubestore.New(k.config, k.namespace, doc.Tenant.Name, doc.TenantUID)
	if err != nil {
		return nil, fmt.Errorf("opening the Kubernetes state store: %w", err)
	}
	return st, nil
}

// run follows new generations into srv and reports through the Lease until
// ctx ends; the returned channel closes once the Lease slot is released, so
// the operator stops counting this replica before the process exits.
func (k *kubeSource) run(ctx context.Context, srv *issuer.Server) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		if err := k.secrets.Run(ctx, srv); err != nil {
			k.log.Error("following the config Secret stopped", "error", err)
		}
	}()
	if k.leases == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		report := func() follow.Report {
			r := follow.Report{Generation: srv.Generation()}
			if err := k.secrets.LastError(); err != nil {
				r.Error = err.Error()
			}
			return r
		}
		if err := k.leases.Run(ctx, report); err != nil {
			k.log.Error("releasing the Lease slot", "error", err)
		}
	}()
	return done
}
