package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UserClaim names a user attribute an API may ask for in access tokens.
// +kubebuilder:validation:Enum=groups;email
type UserClaim string

const (
	UserClaimGroups UserClaim = "groups"
	UserClaimEmail  UserClaim = "email"
)

// APISpec declares a resource server: the audience of access tokens and how
// long those tokens live.
// +kubebuilder:validation:XValidation:rule="!has(self.tokenLifetimeForBrowserFlows) || !self.tokenLifetimeForBrowserFlows.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (has(self.tokenLifetime) ? (!self.tokenLifetime.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.tokenLifetimeForBrowserFlows) <= duration(self.tokenLifetime)) : duration(self.tokenLifetimeForBrowserFlows) <= duration('24h'))",message="spec.tokenLifetimeForBrowserFlows must not exceed spec.tokenLifetime (default 24h): browser flows get the shorter lifetime",fieldPath=".tokenLifetimeForBrowserFlows",reason=FieldValueInvalid
type APISpec struct {
	// tenantRef names the Tenant (issuer) that issues tokens for this API.
	// +required
	TenantRef TenantReference `json:"tenantRef"`

	// audience is the "aud" claim of access tokens for this API and the
	// value clients pass as the audience or resource parameter, usually the
	// API's base URL (https://orders.example.com). Unique within the tenant,
	// and owned by a namespace: the first namespace whose API uses an
	// audience holds it, and keeps holding it while its API is deleted and
	// recreated; another namespace's API with the same audience is refused
	// (AudienceConflict) until the Tenant hands the audience over with a
	// spec.audiences rule. Where the Tenant has such rules, only the
	// namespaces they name may use matching audiences.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.matches('[[:space:]]')",message="spec.audience must not contain whitespace"
	Audience string `json:"audience"`

	// scopes the API defines. Applications may be granted any of them in
	// their spec.apis[].scopes. Names are unique.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=128
	Scopes []APIScope `json:"scopes,omitempty"`

	// tokenLifetime bounds exp - iat of access tokens for this API issued in
	// standard flows: server-side web apps, native apps and
	// machine-to-machine clients. Auth0 calls it "Token Expiration";
	// Keycloak "Access Token Lifespan"; Ory Hydra ttl.access_token.
	// Default 24h; range 1m to 720h (30 days); capped by the Tenant's
	// spec.policy.maxAccessTokenLifetime.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.tokenLifetime must be a Go duration such as 15m, 1h or 24h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="spec.tokenLifetime must be between 1m and 720h (30 days)"
	TokenLifetime *metav1.Duration `json:"tokenLifetime,omitempty"`

	// tokenLifetimeForBrowserFlows bounds exp - iat of access tokens for
	// this API issued in browser flows: delivered through the front channel
	// (implicit or hybrid response_type containing "token") or issued to a
	// SinglePage application, whose code cannot keep a token safe. (Auth0
	// applies its setting of this name to implicit/hybrid only; idtenant
	// also applies it to SinglePage apps and says so in status.)
	// Auth0: "Token Expiration For Browser Flows"; Keycloak: "Access Token
	// Lifespan For Implicit Flow". Default 2h, lowered to tokenLifetime when
	// that is shorter; range 1m to tokenLifetime; capped by the Tenant's
	// spec.policy.maxBrowserAccessTokenLifetime.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.tokenLifetimeForBrowserFlows must be a Go duration such as 5m, 15m or 2h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="spec.tokenLifetimeForBrowserFlows must be between 1m and 720h (30 days)"
	TokenLifetimeForBrowserFlows *metav1.Duration `json:"tokenLifetimeForBrowserFlows,omitempty"`

	// signingAlgorithm signs this API's access tokens. Default: the
	// Tenant's spec.signingAlgorithm. ES256 signs about 20x faster than
	// RS256, which matters for high-volume machine-to-machine traffic.
	// +optional
	SigningAlgorithm SigningAlgorithm `json:"signingAlgorithm,omitempty"`

	// userClaims are the user's directory attributes this API reads from
	// its access tokens, so it need not call userinfo: "groups" (to
	// authorize by group) and/or "email". They are added to access tokens
	// issued on behalf of a user (never to client_credentials tokens),
	// whatever scopes the client requested: the API decides what it needs
	// to know about the users who call it. Default: none.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=2
	UserClaims []UserClaim `json:"userClaims,omitempty"`

	// allowedApplications is this API owner's consent: which namespaces'
	// Applications may list this API in their spec.apis and get access
	// tokens for its audience. Default: Applications in this API's own
	// namespace only. An Application elsewhere that lists the API without
	// consent reports APIsResolved=False naming this field; the issuer
	// serves it without this API, so its token requests for this audience
	// fail with invalid_target. The Tenant must admit the Application's
	// namespace as well (Tenant spec.allowedNamespaces): consent here never
	// widens what the Tenant admits. Like Gateway API's ReferenceGrant, the
	// owner of the object being referred to decides.
	// +optional
	AllowedApplications *AllowedApplications `json:"allowedApplications,omitempty"`
}

// AllowedApplications says which Applications may use an API.
type AllowedApplications struct {
	// namespaces selects the namespaces whose Applications may use the API.
	// +required
	Namespaces ApplicationNamespaces `json:"namespaces"`
}

// ApplicationNamespacesFrom selects the namespaces whose Applications may use
// an API.
// +kubebuilder:validation:Enum=Same;Names;Selector;All
type ApplicationNamespacesFrom string

const (
	// ApplicationsFromSame allows Applications in the API's own namespace
	// only (the default).
	ApplicationsFromSame ApplicationNamespacesFrom = "Same"
	// ApplicationsFromNames also allows the namespaces listed in names.
	ApplicationsFromNames ApplicationNamespacesFrom = "Names"
	// ApplicationsFromSelector also allows namespaces whose labels match
	// selector.
	ApplicationsFromSelector ApplicationNamespacesFrom = "Selector"
	// ApplicationsFromAll allows every namespace the Tenant admits.
	ApplicationsFromAll ApplicationNamespacesFrom = "All"
)

// ApplicationNamespaces picks namespaces by name or by label; the API's own
// namespace is always allowed.
// +kubebuilder:validation:XValidation:rule="self.from == 'Names' ? (has(self.names) && size(self.names) > 0) : !has(self.names)",message="spec.allowedApplications.namespaces.names must list at least one namespace when from is Names, and only then",fieldPath=".names",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="self.from == 'Selector' ? has(self.selector) : !has(self.selector)",message="spec.allowedApplications.namespaces.selector must be set when from is Selector, and only then",fieldPath=".selector",reason=FieldValueInvalid
type ApplicationNamespaces struct {
	// from is Same (this API's namespace only), Names (also the namespaces
	// in names), Selector (also namespaces whose labels match selector) or
	// All (every namespace the Tenant admits). Prefer Names: a namespace's
	// labels may be changed by whoever can edit namespaces.
	// +required
	From ApplicationNamespacesFrom `json:"from"`

	// names lists namespaces by name when from is Names.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	Names []string `json:"names,omitempty"`

	// selector picks namespaces by label when from is Selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// APIScope is a permission an API defines.
type APIScope struct {
	// name is the scope token, e.g. "orders:read".
	// +required
	Name ScopeName `json:"name"`

	// description says what the scope allows, for reviewers.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Description string `json:"description,omitempty"`
}

// APIStatus reports the effective access token lifetimes of the API.
type APIStatus struct {
	// observedGeneration is the metadata.generation this status describes;
	// -1 until the operator has observed the object for the first time, so
	// kstatus (Flux, kubectl wait) and Argo CD read a new object as in
	// progress instead of done.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled (kstatus), plus
	// TenantResolved and LifetimesClamped. Ready is False while the API's
	// audience belongs to another API or namespace (AudienceConflict) or
	// the Tenant reserves it for other namespaces (AudienceNotAllowed).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// issuerURL is the Tenant's issuer identifier: the "iss" of this API's
	// access tokens.
	// +optional
	IssuerURL string `json:"issuerURL,omitempty"`

	// effective is the lifetime of this API's access tokens per flow, as the
	// issuer applies it: after a change it switches to the new values only
	// once every issuer replica serves them.
	// +optional
	Effective *APIEffective `json:"effective,omitempty"`

	// effectiveSince is when the issuer started applying effective.
	// +optional
	EffectiveSince *metav1.Time `json:"effectiveSince,omitempty"`

	// previousTokensValidUntil is when the last access token issued under the
	// previous lifetimes expires.
	// +optional
	PreviousTokensValidUntil *metav1.Time `json:"previousTokensValidUntil,omitempty"`

	// applications lists the Applications ("<namespace>/<name>") allowed to
	// get tokens for this API: they list it in spec.apis and
	// spec.allowedApplications admits their namespace.
	// +optional
	// +listType=atomic
	Applications []string `json:"applications,omitempty"`

	// deniedApplications lists the Applications ("<namespace>/<name>") of
	// the same Tenant that list this API in spec.apis although
	// spec.allowedApplications does not admit their namespace. They get no
	// tokens for this API; the list shows the API owner who is asking.
	// +optional
	// +listType=atomic
	DeniedApplications []string `json:"deniedApplications,omitempty"`

	// advisories are valid but risky combinations a reviewer should see.
	// +optional
	// +listType=atomic
	Advisories []Advisory `json:"advisories,omitempty"`
}

// APIEffective reports an API's access token lifetimes in force.
type APIEffective struct {
	// tokenLifetime is the access token lifetime in standard flows.
	// +required
	TokenLifetime EffectiveLifetime `json:"tokenLifetime"`

	// tokenLifetimeForBrowserFlows is the access token lifetime in browser
	// flows.
	// +required
	TokenLifetimeForBrowserFlows EffectiveLifetime `json:"tokenLifetimeForBrowserFlows"`

	// signingAlgorithm signs this API's access tokens.
	// +required
	SigningAlgorithm SigningAlgorithm `json:"signingAlgorithm"`
}

// API is a resource server whose access tokens a Tenant issues.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=idtenant,shortName=idapi
// +kubebuilder:printcolumn:name="Audience",type=string,JSONPath=`.spec.audience`
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Token",type=string,JSONPath=`.status.effective.tokenLifetime.duration`,description="Access token lifetime in standard flows"
// +kubebuilder:printcolumn:name="Browser",type=string,JSONPath=`.status.effective.tokenLifetimeForBrowserFlows.duration`,description="Access token lifetime in browser flows"
// +kubebuilder:printcolumn:name="Alg",type=string,JSONPath=`.status.effective.signingAlgorithm`,priority=1
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type API struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the resource server.
	// +required
	Spec APISpec `json:"spec"`

	// status reports its effective access token lifetimes.
	// +optional
	// +kubebuilder:default:={"observedGeneration":-1}
	Status APIStatus `json:"status,omitempty"`
}

// APIList is a list of APIs.
// +kubebuilder:object:root=true
type APIList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []API `json:"items"`
}

func init() {
	SchemeBuilder.Register(&API{}, &APIList{})
}
