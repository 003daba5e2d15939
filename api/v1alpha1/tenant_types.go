package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TenantSpec declares one OpenID Connect issuer: where it is reached, how it
// signs, how long user sessions last, and what the Applications and APIs
// attached to it may ask for.
// +kubebuilder:validation:XValidation:rule="!has(self.exposure) || self.issuerURL.startsWith('https://')",message="spec.exposure publishes the issuer through a Gateway or Ingress, which terminate TLS: spec.issuerURL must be an https URL",fieldPath=".issuerURL",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.exposure) || self.issuerURL.matches('^https://[a-zA-Z0-9.-]*[a-zA-Z-][a-zA-Z0-9.-]*(/.*)?$')",message="spec.exposure routes a DNS host name on the Gateway's or ingress controller's port: spec.issuerURL must name a host (not an IP address) and no port",fieldPath=".issuerURL",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.state) || !has(self.state.type) || self.state.type != 'Memory' || !has(self.replicas) || self.replicas <= 1",message="spec.state.type Memory allows spec.replicas of 1 only: each replica would keep its own sessions, codes and refresh tokens, so a code issued by one could not be redeemed at another; use spec.state.type Kubernetes (the default) to run more replicas",fieldPath=".replicas",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.session) || !has(self.session.inactivityTimeout) || !self.session.inactivityTimeout.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (has(self.session.absoluteTimeout) ? (!self.session.absoluteTimeout.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.session.inactivityTimeout) <= duration(self.session.absoluteTimeout)) : duration(self.session.inactivityTimeout) <= duration('168h'))",message="spec.session.inactivityTimeout must not exceed spec.session.absoluteTimeout (default 168h): a session cannot stay idle longer than it may live",fieldPath=".session.inactivityTimeout",reason=FieldValueInvalid
type TenantSpec struct {
	// issuerURL is the public URL of this tenant's issuer: the "iss" claim of
	// every token and the base of the discovery document
	// (issuerURL + "/.well-known/openid-configuration"). It must be an
	// absolute https URL without query or fragment; plain http is accepted
	// only for loopback hosts (localhost, 127.0.0.1, [::1]) for local
	// development. Changing it invalidates every token already issued.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['https', 'http'] && size(url(self).getHostname()) > 0",message="spec.issuerURL must be an absolute http(s) URL such as https://id.example.com"
	// +kubebuilder:validation:XValidation:rule="!isURL(self) || url(self).getScheme() == 'https' || url(self).getHostname() in ['localhost', '127.0.0.1', '::1']",message="spec.issuerURL must use https; http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1])"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="spec.issuerURL must not contain a query or fragment (OpenID Connect Discovery 1.0, section 3)"
	// +kubebuilder:validation:XValidation:rule="!self.contains('@')",message="spec.issuerURL must not contain user information (user:password@)"
	IssuerURL string `json:"issuerURL"`

	// displayName names the identity provider on its login and sign-out
	// pages, e.g. "Acme Corp". Plain text (HTML is shown as typed, never
	// interpreted), at most 64 characters. Default: the Tenant's name.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	DisplayName string `json:"displayName,omitempty"`

	// session bounds how long a user's single-sign-on session at the issuer
	// lives. While the session lives, applications get new tokens without the
	// user typing a password again.
	// +optional
	Session *SessionSpec `json:"session,omitempty"`

	// signingAlgorithm signs ID tokens, and access tokens of APIs that do not
	// choose their own. RS256 (default) is understood by every client; ES256
	// signs about 20x faster and gives shorter tokens.
	// +optional
	SigningAlgorithm SigningAlgorithm `json:"signingAlgorithm,omitempty"`

	// keyRotationPeriod is how often the operator generates a new signing
	// key. The new key is published in the JWKS before it signs and the old
	// one stays published until every token it signed has expired.
	// Default 2160h (90 days); range 24h to 8760h (365 days).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.keyRotationPeriod must be a Go duration such as 720h or 2160h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('24h') && duration(self) <= duration('8760h'))",message="spec.keyRotationPeriod must be between 24h and 8760h (365 days)"
	KeyRotationPeriod *metav1.Duration `json:"keyRotationPeriod,omitempty"`

	// policy caps the lifetimes that Applications and APIs attached to this
	// tenant may request. Use it to enforce an organisation-wide maximum no
	// matter what individual teams write.
	// +optional
	Policy *LifetimePolicy `json:"policy,omitempty"`

	// allowedNamespaces says which namespaces may attach Applications and
	// APIs to this tenant. Default: only the Tenant's own namespace.
	// +optional
	AllowedNamespaces *AllowedNamespaces `json:"allowedNamespaces,omitempty"`

	// consent decides which applications must ask each user, on a consent
	// page, before they receive anything about the user (the scopes
	// email, profile, groups, offline_access and API scopes; see
	// Application spec.thirdParty): ThirdParty (default) asks for
	// Applications marked spec.thirdParty only; OutsideTenantNamespace
	// also asks for every Application outside the Tenant's namespace,
	// whatever it says of itself, so that the owner of an admitted
	// namespace cannot silently (prompt=none) collect the profile of
	// every signed-in user who follows a link; All asks for every
	// application. Each Application's status.consent shows the outcome.
	// +optional
	// +kubebuilder:validation:Enum=ThirdParty;OutsideTenantNamespace;All
	Consent ConsentPolicy `json:"consent,omitempty"`

	// audiences decides which namespaces' APIs may use which audiences
	// ("aud" claims). Each rule reserves the audiences starting with its
	// prefix for the namespaces it lists; the rule with the longest
	// matching prefix decides, so a broad rule can be refined for one
	// path. An API whose audience a rule covers and whose namespace that
	// rule does not list is refused (AudienceNotAllowed) and never served.
	// Audiences no rule covers belong to the first namespace whose API
	// uses them (see status.audienceClaims). A rule is also how the
	// platform team hands an audience over to another namespace: it
	// overrides any claim. Default: no rules.
	// +optional
	// +listType=map
	// +listMapKey=prefix
	// +kubebuilder:validation:MaxItems=256
	Audiences []AudienceRule `json:"audiences,omitempty"`

	// usersSecretRef names a Secret in the Tenant's namespace holding the
	// tenant's user directory under the key "htpasswd": one line per user,
	// "username:bcrypt-hash", as written by `htpasswd -nbB user password`.
	// The username (usually an email address) is what the user types on the
	// login page and the "sub" of their tokens. Only bcrypt hashes are
	// accepted. Without it, the tenant has no users and only serves
	// MachineToMachine applications.
	// +optional
	UsersSecretRef *LocalSecretReference `json:"usersSecretRef,omitempty"`

	// connections are upstream OpenID Connect providers users may log in
	// with, in the order the login page offers them (after the local
	// username and password form, when usersSecretRef is set). With one
	// connection and no local users, the login page sends users straight
	// to it. A user who logs in through a connection gets a subject of
	// this tenant derived from the connection's name and the upstream
	// subject, and a session under this Tenant's timeouts. Removing a
	// connection ends the sessions and refresh tokens it started at their
	// next use. See docs/connections.md. At most 16.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=16
	Connections []Connection `json:"connections,omitempty"`

	// replicas is the number of issuer processes serving this tenant.
	// Default 1; range 1 to 20. With the Kubernetes state store (the
	// default) every replica shares the same sessions, codes and refresh
	// tokens, so a user may hit any of them; the Memory store allows one
	// replica only. Scaling restarts no replica.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Replicas *int32 `json:"replicas,omitempty"`

	// issuer adjusts the issuer's Pods: resources, image pull secrets,
	// scheduling (nodeSelector, tolerations, affinity, topology spread,
	// priority class) and extra annotations. Each field set replaces the
	// operator's default for it. Changing it rolls the Pods gracefully.
	// +optional
	Issuer *IssuerPodSpec `json:"issuer,omitempty"`

	// state says where the issuer keeps what it must remember between
	// requests: users' single-sign-on sessions, authorization codes until
	// they expire (so a replayed code is recognised), refresh-token
	// families (the current token of each grant, and whether it was
	// revoked) and revoked access tokens. Records hold keyed digests of
	// codes and tokens, never a usable credential. A user who has not
	// logged in yet stores nothing: the pending login travels sealed in the
	// login page. Default: type Kubernetes.
	// +optional
	State *StateSpec `json:"state,omitempty"`

	// exposure publishes the issuer at spec.issuerURL through the cluster's
	// edge: an HTTPRoute attached to a Gateway (Gateway API) or an Ingress,
	// for the URL's host and path, to the issuer's Service. Browsers and
	// relying parties must reach the issuer at exactly issuerURL. The
	// Tenant's Exposed condition reports whether the Gateway accepted the
	// route or the ingress controller gave the Ingress an address. Unset:
	// nothing is rendered, and you route to Service <name>-issuer (port
	// 80) yourself; see docs/exposure.md.
	// +optional
	Exposure *ExposureSpec `json:"exposure,omitempty"`

	// trustedProxies are the addresses of the proxies in front of the
	// issuer (the ingress controller's or Gateway's Pods, a load
	// balancer), as CIDRs such as 10.244.0.0/16 or single addresses. The
	// issuer limits password guessing per client address; a request whose
	// peer is one of these proxies is counted at the address the proxies
	// recorded in X-Forwarded-For (or Forwarded): the rightmost entry that
	// is not itself a trusted proxy, which the client cannot forge.
	// Requests from any other peer are counted at the peer's address and
	// their forwarding headers are ignored, since anyone can send them.
	// Default: none, so behind a proxy every user shares its address and
	// the per-address limits count them together; list the proxies'
	// addresses to count each user at their own. At most 32; IPv6 clients
	// are counted per /64.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || isIP(self)",message="spec.trustedProxies entries must be a CIDR such as 10.244.0.0/16 or an IP address such as 10.0.0.5"
	TrustedProxies []string `json:"trustedProxies,omitempty"`
}

// AudienceRule reserves audiences for namespaces.
type AudienceRule struct {
	// prefix selects audiences: an audience matches when it starts with
	// prefix (or equals it), e.g. "https://billing.example.com/" or the
	// exact audience. The rule with the longest matching prefix decides.
	// An empty prefix matches every audience: with it, no audience can be
	// used without a rule naming its namespace.
	// +required
	// +kubebuilder:validation:MaxLength=512
	Prefix string `json:"prefix"`

	// namespaces may use audiences matching prefix; APIs in any other
	// namespace may not. An empty list reserves the audiences for nobody.
	// +required
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	Namespaces []string `json:"namespaces"`
}

// LocalSecretReference names a Secret in the same namespace.
type LocalSecretReference struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SessionSpec sets the two timeouts of a user's single-sign-on session.
type SessionSpec struct {
	// inactivityTimeout is the sliding idle window of a session. Every
	// request made on the user's behalf — an authorization request answered
	// from the session (interactive or prompt=none) or a refresh of a
	// session-bound refresh token — moves the idle deadline to now +
	// inactivityTimeout, never past the absolute deadline. With no such
	// request within the window the session ends and the user logs in again.
	// Shortening it applies to existing sessions at once.
	// Auth0 calls it "Inactivity timeout"; Keycloak "SSO Session Idle".
	// Default 72h; range 1m to 2400h (100 days); at most absoluteTimeout.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.session.inactivityTimeout must be a Go duration such as 30m, 72h or 1h30m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('2400h'))",message="spec.session.inactivityTimeout must be between 1m and 2400h (100 days)"
	InactivityTimeout *metav1.Duration `json:"inactivityTimeout,omitempty"`

	// absoluteTimeout is the hard cap on a session, counted from the moment
	// the user logged in, whatever the activity. Nothing issued on the
	// user's behalf outlives it: ID tokens, access tokens and session-bound
	// refresh tokens expire at the absolute deadline at the latest.
	// Shortening it applies to existing sessions at once.
	// Auth0 calls it "Require log in after"; Keycloak "SSO Session Max".
	// Default 168h (7 days); range 1m to 8760h (365 days).
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.session.absoluteTimeout must be a Go duration such as 12h, 168h or 720h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('8760h'))",message="spec.session.absoluteTimeout must be between 1m and 8760h (365 days)"
	AbsoluteTimeout *metav1.Duration `json:"absoluteTimeout,omitempty"`
}

// PolicyMode says what happens when an Application or API asks for more than
// a policy ceiling allows.
// +kubebuilder:validation:Enum=Clamp;Reject
type PolicyMode string

const (
	// PolicyClamp uses the ceiling instead of the requested value and reports
	// LifetimesClamped=True with the numbers.
	PolicyClamp PolicyMode = "Clamp"
	// PolicyReject refuses the object: it reports Ready=False and Stalled=True
	// and the issuer does not serve it until the request fits.
	PolicyReject PolicyMode = "Reject"
)

// LifetimePolicy holds ceilings on what attached Applications and APIs may
// request. A ceiling left out means no cap beyond the built-in maximum.
// Defaults above a ceiling are always lowered to it, in both modes: only
// values somebody wrote can be rejected.
type LifetimePolicy struct {
	// mode is Clamp (default: use the ceiling and say so in status) or
	// Reject (refuse the object until its request fits).
	// +optional
	Mode PolicyMode `json:"mode,omitempty"`

	// maxIDTokenLifetime caps Application spec.idTokenLifetime.
	// Range 1m to 720h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.policy.maxIDTokenLifetime must be a Go duration such as 1h or 10h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="spec.policy.maxIDTokenLifetime must be between 1m and 720h (30 days)"
	MaxIDTokenLifetime *metav1.Duration `json:"maxIDTokenLifetime,omitempty"`

	// maxAccessTokenLifetime caps API spec.tokenLifetime, and therefore
	// every access token this tenant issues. Range 1m to 720h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.policy.maxAccessTokenLifetime must be a Go duration such as 1h or 24h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="spec.policy.maxAccessTokenLifetime must be between 1m and 720h (30 days)"
	MaxAccessTokenLifetime *metav1.Duration `json:"maxAccessTokenLifetime,omitempty"`

	// maxBrowserAccessTokenLifetime caps API
	// spec.tokenLifetimeForBrowserFlows: access tokens handed to code running
	// in a browser. Range 1m to 720h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.policy.maxBrowserAccessTokenLifetime must be a Go duration such as 15m or 1h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="spec.policy.maxBrowserAccessTokenLifetime must be between 1m and 720h (30 days)"
	MaxBrowserAccessTokenLifetime *metav1.Duration `json:"maxBrowserAccessTokenLifetime,omitempty"`

	// maxRefreshTokenLifetime caps Application
	// spec.refreshToken.absoluteLifetime and inactivityLifetime.
	// Range 1m to 8760h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.policy.maxRefreshTokenLifetime must be a Go duration such as 168h or 720h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('8760h'))",message="spec.policy.maxRefreshTokenLifetime must be between 1m and 8760h (365 days)"
	MaxRefreshTokenLifetime *metav1.Duration `json:"maxRefreshTokenLifetime,omitempty"`
}

// NamespacesFrom selects which namespaces may attach to a Tenant.
// +kubebuilder:validation:Enum=Same;All;Selector
type NamespacesFrom string

const (
	// NamespacesFromSame admits only the Tenant's own namespace.
	NamespacesFromSame NamespacesFrom = "Same"
	// NamespacesFromAll admits every namespace.
	NamespacesFromAll NamespacesFrom = "All"
	// NamespacesFromSelector admits namespaces whose labels match selector.
	NamespacesFromSelector NamespacesFrom = "Selector"
)

// AllowedNamespaces follows the Gateway API model of allowedRoutes.namespaces.
// +kubebuilder:validation:XValidation:rule="self.from == 'Selector' ? has(self.selector) : !has(self.selector)",message="spec.allowedNamespaces.selector must be set when from is Selector, and only then",fieldPath=".selector",reason=FieldValueInvalid
type AllowedNamespaces struct {
	// from is Same (default: the Tenant's namespace only), All, or Selector
	// (namespaces whose labels match selector; the Tenant's own namespace is
	// always admitted).
	// +required
	From NamespacesFrom `json:"from"`

	// selector picks namespaces by label when from is Selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// Tenant is one OpenID Connect issuer with its signing keys, user directory,
// session settings and lifetime policy. Applications and APIs attach to it.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=idtenant,shortName=idt
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.spec.issuerURL`
// +kubebuilder:printcolumn:name="Idle",type=string,JSONPath=`.status.effective.session.inactivityTimeout.duration`,description="Session inactivity timeout in force"
// +kubebuilder:printcolumn:name="Max-Session",type=string,JSONPath=`.status.effective.session.absoluteTimeout.duration`,description="Absolute session timeout in force"
// +kubebuilder:printcolumn:name="Apps",type=integer,JSONPath=`.status.applications`,priority=1
// +kubebuilder:printcolumn:name="APIs",type=integer,JSONPath=`.status.apis`,priority=1
// +kubebuilder:printcolumn:name="Sessions",type=integer,JSONPath=`.status.state.sessions`,priority=1,description="Live single-sign-on sessions (Kubernetes state store)"
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Tenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the issuer.
	// +required
	Spec TenantSpec `json:"spec"`

	// status reports what the operator observed.
	// +optional
	// +kubebuilder:default:={"observedGeneration":-1}
	Status TenantStatus `json:"status,omitempty"`
}

// TenantList is a list of Tenants.
// +kubebuilder:object:root=true
type TenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Tenant `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Tenant{}, &TenantList{})
}

// ConsentPolicy says which applications ask users for consent.
type ConsentPolicy string

const (
	ConsentThirdParty             ConsentPolicy = "ThirdParty"
	ConsentOutsideTenantNamespace ConsentPolicy = "OutsideTenantNamespace"
	ConsentAll                    ConsentPolicy = "All"
)

// ConsentRequired reports whether an application in appNamespace must ask
// users for consent under the policy of a Tenant in tenantNamespace. It is
// the one rule both the issuer (which asks) and the Application's status
// (which reports it) apply.
func ConsentRequired(policy ConsentPolicy, tenantNamespace, appNamespace string, app *ApplicationSpec) bool {
	if app.Type == MachineToMachine {
		return false
	}
	switch policy {
	case ConsentAll:
		return true
	case ConsentOutsideTenantNamespace:
		return app.ThirdParty || appNamespace != tenantNamespace
	default:
		return app.ThirdParty
	}
}
