package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Connection is an upstream OpenID Connect provider the tenant's users may
// log in with (Entra ID, Okta, Google Workspace, Keycloak, GitLab, another
// idtenant Tenant). idtenant is the upstream's client: it sends the user
// there with a code flow (PKCE, state, nonce), verifies the ID token it gets
// back, and starts its own session. From then on the user is a user of this
// tenant: the session's inactivity and absolute timeouts are this Tenant's
// spec.session, whatever the upstream's own session does, and the tokens
// applications get are this tenant's.
// +kubebuilder:validation:XValidation:rule="self.oidc.issuerURL == oldSelf.oidc.issuerURL",message="spec.connections[].oidc.issuerURL cannot change in place: its users' subjects derive from the connection's name and their upstream subject, so another provider's user 42 would become the old provider's user 42 at every application. Add the new provider under a new name; to keep subjects for the same users at a moved issuer, remove the connection and add it back in a second change",fieldPath=".oidc.issuerURL",reason=FieldValueForbidden
type Connection struct {
	// name identifies the connection on the login page's links, in the
	// federated_claims.connector_id claim of its users' tokens, and in
	// their subject: renaming a connection gives its users new subjects.
	// Lower-case letters, digits and '-', at most 63 characters.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// displayName labels the connection's button on the login page
	// ("Continue with <displayName>"), for example "Acme Entra ID". Plain
	// text, at most 64 characters. Default: the name.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	DisplayName string `json:"displayName,omitempty"`

	// oidc is the upstream OpenID Connect provider.
	// +required
	OIDC OIDCConnection `json:"oidc"`
}

// OIDCConnection is how idtenant signs users in at an upstream OpenID
// Connect provider. Register idtenant there as a web application with the
// redirect URI <spec.issuerURL>/login/callback (status.connections lists
// it).
type OIDCConnection struct {
	// issuerURL is the upstream's issuer, exactly as its discovery document
	// (<issuerURL>/.well-known/openid-configuration) states it. https,
	// except for loopback hosts (localhost, 127.0.0.1, [::1]) in
	// development; no user name or password, query or fragment. The
	// operator checks discovery live and reports the result in the
	// ConnectionsReady condition.
	// +required
	// +kubebuilder:validation:MinLength=8
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^/?#@\s]+(/[^?#\s]*)?$`
	// +kubebuilder:validation:XValidation:rule="url(self).getScheme() == 'https' || url(self).getHostname() in ['localhost', '127.0.0.1', '::1']",message="issuerURL must use https (http only for localhost, 127.0.0.1 or [::1])"
	IssuerURL string `json:"issuerURL"`

	// clientID is idtenant's client ID at the upstream.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	ClientID string `json:"clientID"`

	// clientSecretRef names the key of a Secret in the Tenant's namespace
	// that holds idtenant's client secret at the upstream. The Secret must
	// carry the annotation idtenant.dev/connection-issuer naming exactly
	// this connection's issuerURL (whoever may write it says where its
	// value may be sent) and may not be one of idtenant's own; otherwise the connection is not ready
	// (ClientSecretRefused). The secret goes into the issuer's
	// configuration Secret only, never into status, events or logs.
	// Unset: idtenant is a public client of the upstream and relies on
	// PKCE alone.
	// +optional
	ClientSecretRef *SecretKeyReference `json:"clientSecretRef,omitempty"`

	// scopes are requested from the upstream. Default: openid, email,
	// profile. Must include openid; add groups (or what the upstream
	// calls it) to receive group memberships.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[\x21\x23-\x5b\x5d-\x7e]+$`
	// +kubebuilder:validation:XValidation:rule="'openid' in self",message="scopes must include openid"
	Scopes []string `json:"scopes,omitempty"`

	// claims says which claims of the upstream's ID token carry the
	// user's attributes. Defaults fit most providers.
	// +optional
	Claims *ClaimMapping `json:"claims,omitempty"`

	// requireVerifiedEmail refuses a login whose ID token does not say
	// email_verified: true for the user's email. Without it, the
	// upstream's email_verified is passed on as it is (false when absent),
	// and relying parties decide. Entra ID sends no email_verified.
	// +optional
	RequireVerifiedEmail bool `json:"requireVerifiedEmail,omitempty"`

	// allowedDomains admits only users whose email address the upstream
	// says is verified (email_verified: true) and whose domain is one of
	// these, compared case-insensitively and exactly: "example.com" does
	// not admit "eu.example.com". When the ID token carries Google's "hd"
	// claim (the Google Workspace domain), it must be one of these too,
	// and a Google connection with one domain asks Google to offer only
	// accounts of it. Set it (or allowedGroups) for a provider anyone can
	// register at — Google, GitLab.com, Microsoft's "common" endpoint —
	// or everyone there can sign in. Checked at every login and every use
	// of a session or refresh token, so removing a domain ends its users'
	// sessions. Empty: any domain. At most 32.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?)+$`
	AllowedDomains []string `json:"allowedDomains,omitempty"`

	// allowedGroups admits only users in at least one of these upstream
	// groups, as the upstream names them (before groupsPrefix), read from
	// claims.groups. Checked at every login and every use of a session or
	// refresh token. With allowedDomains, a user must pass both. Empty:
	// any group (or none). At most 64.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	AllowedGroups []string `json:"allowedGroups,omitempty"`

	// maxAge bounds how long a login through this connection lasts: its
	// session, the tokens it issues, and its refresh tokens, offline ones
	// included, end this long after the user signed in at the upstream,
	// whatever the Tenant's session and the applications' refresh
	// lifetimes allow. The upstream is asked only at login, so this is
	// the bound on how long a user disabled, removed or taken out of a
	// group upstream keeps access here: set it to what your offboarding
	// requires (e.g. 12h). Unset: the Tenant's and applications'
	// lifetimes alone (sessions up to spec.session.absoluteTimeout,
	// offline refresh tokens up to their absoluteLifetime). Range 5m to
	// 8760h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="oidc.maxAge must be a Go duration such as 12h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('5m') && duration(self) <= duration('8760h'))",message="oidc.maxAge must be between 5m and 8760h"
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
}

// ClaimMapping names the upstream ID token claims a user's attributes are
// read from.
type ClaimMapping struct {
	// subject is the claim that identifies the user at the upstream,
	// stable and unique there. Default "sub". idtenant's own subject is
	// derived from the connection's name and this value; the value itself
	// is released as federated_claims.user_id.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Subject string `json:"subject,omitempty"`

	// username is released as preferred_username (scope profile).
	// Default "preferred_username".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Username string `json:"username,omitempty"`

	// email is released as email (scope email). Default "email".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Email string `json:"email,omitempty"`

	// name is released as name (scope profile). Default "name".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name,omitempty"`

	// groups is a claim holding a list of strings (or one string), released
	// as groups (scope groups, and in access tokens of APIs that ask for
	// groups). Default "groups". At most 64 groups of 128 characters are
	// kept.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	Groups string `json:"groups,omitempty"`

	// groupsPrefix is put before every upstream group, for example
	// "entra:", so that upstream groups never pass for local ones or for
	// another connection's. Default: the connection's name and a colon
	// ("corp:"). Set "" explicitly to release the upstream's group names
	// as they are.
	// +optional
	// +kubebuilder:validation:MaxLength=32
	GroupsPrefix *string `json:"groupsPrefix,omitempty"`
}

// GroupsPrefixOf is the prefix a connection puts before its users' groups:
// claims.groupsPrefix, or "<name>:" when unset.
func (c Connection) GroupsPrefixOf() string {
	if c.OIDC.Claims != nil && c.OIDC.Claims.GroupsPrefix != nil {
		return *c.OIDC.Claims.GroupsPrefix
	}
	return c.Name + ":"
}

// SecretKeyReference names one key of a Secret in the same namespace.
type SecretKeyReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key in the Secret's data. Default "clientSecret".
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// DefaultClientSecretKey is the key SecretKeyReference.Key defaults to.
const DefaultClientSecretKey = "clientSecret"

// SecretKey is the key, defaulted.
func (r *SecretKeyReference) SecretKey() string {
	if r.Key == "" {
		return DefaultClientSecretKey
	}
	return r.Key
}

// ConnectionStatus is what the operator found when it checked one
// connection.
type ConnectionStatus struct {
	// name of the connection.
	// +required
	Name string `json:"name"`
	// ready says the upstream answered discovery for the configured issuer
	// and the client secret is present.
	// +required
	Ready bool `json:"ready"`
	// reason is a CamelCase word for why the connection is or is not ready:
	// Ready, DiscoveryFailed, IssuerMismatch, ClientSecretMissing.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message says what was found, in words; never the secret.
	// +optional
	Message string `json:"message,omitempty"`
	// redirectURI is what to register at the upstream for this tenant.
	// +optional
	RedirectURI string `json:"redirectURI,omitempty"`
	// since is the Tenant generation from which this connection has been in
	// spec.connections without a break. It is part of what its users'
	// sessions are bound to: a connection removed and added back starts
	// anew, and the sessions it had stay ended.
	// +optional
	Since int64 `json:"since,omitempty"`
	// lastChecked is when the upstream's discovery was last fetched.
	// +optional
	LastChecked *metav1.Time `json:"lastChecked,omitempty"`
}
