package v1alpha1

import "k8s.io/apimachinery/pkg/types"

// TenantReference names the Tenant an Application or API attaches to.
type TenantReference struct {
	// name of the Tenant.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Tenant. Defaults to the namespace of the referring
	// object. A Tenant in another namespace accepts the reference only if its
	// spec.allowedNamespaces admits the referring object's namespace; otherwise
	// the referring object reports TenantResolved=False.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// KeyFrom is the Tenant this reference names, from an object in
// ownNamespace (the default namespace).
func (r TenantReference) KeyFrom(ownNamespace string) types.NamespacedName {
	ns := r.Namespace
	if ns == "" {
		ns = ownNamespace
	}
	return types.NamespacedName{Namespace: ns, Name: r.Name}
}

// SigningAlgorithm is a JWS algorithm the issuer signs tokens with.
// +kubebuilder:validation:Enum=RS256;ES256
type SigningAlgorithm string

const (
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256 on a 2048-bit RSA key: accepted by
	// every OIDC client, but signing costs about a millisecond.
	RS256 SigningAlgorithm = "RS256"
	// ES256 is ECDSA on P-256 with SHA-256: about 20x cheaper to sign than
	// RS256 and with smaller tokens; most modern clients accept it.
	ES256 SigningAlgorithm = "ES256"
)

// EffectiveLifetime is a lifetime as the issuer really applies it: the
// longest a real token can live, after defaults, policy ceilings, the
// browser-flow rule and, for what is issued on behalf of a user, the
// session's absolute timeout (no such token outlives the session).
type EffectiveLifetime struct {
	// duration is the lifetime in canonical Go duration form, for example
	// "10h", "1h30m" or "90s" is shown as "1m30s".
	// +required
	Duration string `json:"duration"`

	// seconds is the same lifetime in whole seconds, as it appears in a
	// token's exp - iat or a token response's expires_in.
	// +required
	Seconds int64 `json:"seconds"`

	// boundBy names the setting that decided this value, as
	// "<Kind> <name>/spec.<field>", for example
	// "API orders/spec.tokenLifetimeForBrowserFlows" or
	// "Tenant acme/spec.policy.maxAccessTokenLifetime". A field that was
	// not set, so its default applied, ends in " (default)". When the
	// session cap decides, it is "Tenant <name>/spec.session.absoluteTimeout"
	// and configured shows the lifetime it cut.
	// +required
	BoundBy string `json:"boundBy"`

	// configured is present only when the session decides: the lifetime the
	// settings give these tokens (after defaults, policy ceilings and the
	// browser-flow rule) is longer than the Tenant's
	// spec.session.absoluteTimeout, and nothing issued on behalf of a user
	// outlives the session, so duration is that timeout. A token issued
	// later in a session expires with the session, sooner still.
	// +optional
	Configured *ConfiguredLifetime `json:"configured,omitempty"`
}

// ConfiguredLifetime is a lifetime as the settings ask for it, before the
// session's absolute timeout cuts it.
type ConfiguredLifetime struct {
	// duration is the lifetime in canonical Go duration form.
	// +required
	Duration string `json:"duration"`

	// seconds is the same lifetime in whole seconds.
	// +required
	Seconds int64 `json:"seconds"`

	// boundBy names the setting that decided this value, as in
	// EffectiveLifetime.
	// +required
	BoundBy string `json:"boundBy"`
}

// Advisory is a note for a reviewer about a combination of settings that is
// valid but probably not what was intended.
type Advisory struct {
	// reason is a CamelCase identifier of the advisory, stable across releases.
	// +required
	Reason string `json:"reason"`

	// message explains the consequence in plain words, with the numbers.
	// +required
	Message string `json:"message"`
}
