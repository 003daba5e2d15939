// Package v1alpha1 contains the idtenant API: Tenant, Application and API, the
// three objects that declare an OpenID Connect identity tenant as code.
//
// Every lifetime is a Go duration string ("90s", "10h", "720h"). Fields that are
// left out are defaulted by the controller, not written back into the spec, and
// the value in force is reported in status together with the setting that
// decided it.
//
// +kubebuilder:object:generate=true
// +groupName=idtenant.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every idtenant object.
	GroupVersion = schema.GroupVersion{Group: "idtenant.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the idtenant types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // the kubebuilder layout; controller-gen and the scheme helpers expect it

	// AddToScheme adds the idtenant types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
