// Package v1alpha1 contains the records of an idtenant issuer's durable
// state: SSO sessions, authorization codes, refresh-token families,
// revoked access tokens and users' consents to third-party applications.
// The issuer creates them in its Tenant's namespace,
// owned by the Tenant; the operator collects expired ones. They are not
// meant to be written by hand.
//
// Records hold keyed digests of codes and tokens, never a usable
// credential. An object's name is the keyed digest of the secret it is
// about, so the issuer finds a record with one GET and never lists.
//
// +kubebuilder:object:generate=true
// +groupName=state.idtenant.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the issuer's state records.
	GroupVersion = schema.GroupVersion{Group: "state.idtenant.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the state types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion} //nolint:staticcheck // the kubebuilder layout; controller-gen and the scheme helpers expect it

	// AddToScheme adds the state types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// TenantLabel names the Tenant a record belongs to; the operator selects a
// tenant's records by it to collect and count them.
const TenantLabel = "state.idtenant.dev/tenant"

// Resources of the record kinds, as RBAC rules and REST paths name
// them.
const (
	ResourceSessions           = "sessions"
	ResourceAuthorizationCodes = "authorizationcodes"
	ResourceRefreshFamilies    = "refreshfamilies"
	ResourceRevokedTokens      = "revokedtokens"
	ResourceConsents           = "consents"
)
