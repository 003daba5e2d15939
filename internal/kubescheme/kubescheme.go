// Package kubescheme is the one runtime.Scheme every idtenant client uses:
// the built-in Kubernetes types, idtenant's two API groups and Gateway API's
// HTTPRoute. It is shared by the manager, the read-only CLI, the dev
// control plane and the tests, so that none of them needs the others.
package kubescheme

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	statev1alpha1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
)

// New registers the built-in types and idtenant's.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, statev1alpha1.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			panic(err) // static registration; cannot fail at run time
		}
	}
	return s
}
