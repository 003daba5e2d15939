package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApplicationType says where an application's code runs, which decides how
// it authenticates and which flows and token lifetimes apply.
// +kubebuilder:validation:Enum=SinglePage;RegularWeb;Native;MachineToMachine
type ApplicationType string

const (
	// SinglePage is JavaScript running in the user's browser: a public
	// client (no secret), code flow with PKCE S256; its access tokens get the
	// browser-flow lifetime.
	SinglePage ApplicationType = "SinglePage"
	// RegularWeb is a server-side web application: a confidential client
	// whose secret stays on the server.
	RegularWeb ApplicationType = "RegularWeb"
	// Native is a mobile or desktop application: a public client using code
	// flow with PKCE S256 and a loopback, claimed https or custom-scheme
	// redirect URI.
	Native ApplicationType = "Native"
	// MachineToMachine is a service calling APIs on its own behalf with the
	// client_credentials grant: no users, no redirects, no ID or refresh
	// tokens.
	MachineToMachine ApplicationType = "MachineToMachine"
)

// ResponseType is an OAuth 2.0 / OpenID Connect response_type.
// +kubebuilder:validation:Enum=code;id_token;"id_token token";"code id_token";"code token";"code id_token token"
type ResponseType string

// TokenEndpointAuthMethod is how a client authenticates at the token endpoint.
// +kubebuilder:validation:Enum=client_secret_basic;client_secret_post;none
type TokenEndpointAuthMethod string

const (
	// AuthMethodBasic sends client_id and secret in the Authorization header.
	AuthMethodBasic TokenEndpointAuthMethod = "client_secret_basic"
	// AuthMethodPost sends client_id and client_secret in the form body.
	AuthMethodPost TokenEndpointAuthMethod = "client_secret_post"
	// AuthMethodNone is a public client: no secret, PKCE S256 required.
	AuthMethodNone TokenEndpointAuthMethod = "none"
)

// RedirectURI is an absolute URI the issuer may send the user back to. It
// is compared with the request's redirect_uri character for character.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="isURL(self) && size(url(self).getScheme()) > 0",message="must be an absolute URI with a scheme, such as https://app.example.com/callback"
// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="must not contain a fragment (#): OAuth 2.0 (RFC 6749 section 3.1.2) forbids it"
// +kubebuilder:validation:XValidation:rule="!self.contains('*')",message="must not contain wildcards: redirect URIs are matched exactly"
// +kubebuilder:validation:XValidation:rule="!self.matches('(?i)^(javascript|data|vbscript|file):')",message="must not use the javascript, data, vbscript or file scheme"
// +kubebuilder:validation:XValidation:rule="!self.matches('(?i)^https?:') || self.matches('(?i)^https?://[^/?#@]')",message="an http(s) URI must name a host"
// +kubebuilder:validation:XValidation:rule="!self.matches('(?i)^http:') || self.matches('(?i)^http://(localhost|127[.]0[.]0[.]1|.::1.)([:/?#]|$)')",message="must use https; http is allowed only for loopback hosts (localhost, 127.0.0.1, [::1])"
type RedirectURI string

// Origin is a web origin, scheme://host[:port], with no path.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=512
// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#*]+$')",message="must be an origin such as https://app.example.com or http://localhost:3000, with no path, query, fragment or wildcard"
type Origin string

// ScopeName is an OAuth 2.0 scope token (RFC 6749 section 3.3).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:Pattern=`^[!#-\[\]-~]+$`
type ScopeName string

// ApplicationSpec declares an OAuth 2.0 / OpenID Connect client.
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.redirectURIs)",message="spec.redirectURIs must not be set for type MachineToMachine: it has no user flows (client_credentials only)",fieldPath=".redirectURIs",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.postLogoutRedirectURIs)",message="spec.postLogoutRedirectURIs must not be set for type MachineToMachine: it has no user sessions",fieldPath=".postLogoutRedirectURIs",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.allowedOrigins)",message="spec.allowedOrigins must not be set for type MachineToMachine: it has no browser code",fieldPath=".allowedOrigins",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.allowedGroups)",message="spec.allowedGroups must not be set for type MachineToMachine: no user signs in to it",fieldPath=".allowedGroups",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.thirdParty) || !self.thirdParty",message="spec.thirdParty must not be set for type MachineToMachine: no user signs in to it, so there is nothing to consent to",fieldPath=".thirdParty",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.responseTypes)",message="spec.responseTypes must not be set for type MachineToMachine: it uses client_credentials only",fieldPath=".responseTypes",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.idTokenLifetime)",message="spec.idTokenLifetime must not be set for type MachineToMachine: it gets no ID tokens",fieldPath=".idTokenLifetime",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type != 'MachineToMachine' || !has(self.refreshToken)",message="spec.refreshToken must not be set for type MachineToMachine: it gets no refresh tokens",fieldPath=".refreshToken",reason=FieldValueForbidden
// +kubebuilder:validation:XValidation:rule="self.type == 'MachineToMachine' || (has(self.redirectURIs) && size(self.redirectURIs) > 0)",message="spec.redirectURIs must list at least one URI for SinglePage, RegularWeb and Native applications",fieldPath=".redirectURIs",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!(self.type in ['SinglePage', 'Native']) || !has(self.tokenEndpointAuthMethod) || self.tokenEndpointAuthMethod == 'none'",message="spec.tokenEndpointAuthMethod must be none for SinglePage and Native applications: they are public clients and can never keep a client secret",fieldPath=".tokenEndpointAuthMethod",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!(self.type in ['RegularWeb', 'MachineToMachine']) || !has(self.tokenEndpointAuthMethod) || self.tokenEndpointAuthMethod != 'none'",message="spec.tokenEndpointAuthMethod must be client_secret_basic or client_secret_post for RegularWeb and MachineToMachine applications: they are confidential clients",fieldPath=".tokenEndpointAuthMethod",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!(self.type in ['SinglePage', 'RegularWeb']) || !has(self.redirectURIs) || self.redirectURIs.all(u, u.startsWith('https://') || (u.startsWith('http://') && isURL(u) && url(u).getHostname() in ['localhost', '127.0.0.1', '::1']))",message="spec.redirectURIs of SinglePage and RegularWeb applications must use https (http only for localhost, 127.0.0.1 or [::1])",fieldPath=".redirectURIs",reason=FieldValueInvalid
type ApplicationSpec struct {
	// tenantRef names the Tenant (issuer) this application is a client of.
	// +required
	TenantRef TenantReference `json:"tenantRef"`

	// type is where the application's code runs: SinglePage (browser
	// JavaScript, public client), RegularWeb (server-side, confidential),
	// Native (mobile/desktop, public) or MachineToMachine (a service using
	// client_credentials). It decides client authentication, the allowed
	// flows and whether access tokens get the browser-flow lifetime.
	// +required
	Type ApplicationType `json:"type"`

	// displayName is what the login page tells users they are signing in
	// to, e.g. "Acme Storefront". Plain text (HTML is shown as typed, never
	// interpreted), at most 64 characters. Default: the Application's name.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	DisplayName string `json:"displayName,omitempty"`

	// redirectURIs are the only URIs the issuer sends authorization
	// responses to, matched exactly (no wildcards, no fragments). Required
	// for every type but MachineToMachine. SinglePage and RegularWeb need
	// https (http only for loopback); Native may also use a private-use
	// scheme such as com.example.app:/callback.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	RedirectURIs []RedirectURI `json:"redirectURIs,omitempty"`

	// postLogoutRedirectURIs are the only URIs the issuer returns the user
	// to after logout (RP-initiated logout), matched exactly.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	PostLogoutRedirectURIs []RedirectURI `json:"postLogoutRedirectURIs,omitempty"`

	// allowedOrigins are the web origins whose browser JavaScript may call
	// the token, userinfo and revocation endpoints (CORS). Needed by
	// SinglePage applications served from another origin than the issuer.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=50
	AllowedOrigins []Origin `json:"allowedOrigins,omitempty"`

	// responseTypes are the response_type values this application may use at
	// the authorization endpoint. Default ["code"]. Types containing
	// "token" deliver the access token through the browser (implicit or
	// hybrid flow), so those tokens always get the browser-flow lifetime.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=6
	ResponseTypes []ResponseType `json:"responseTypes,omitempty"`

	// tokenEndpointAuthMethod is how the application authenticates at the
	// token endpoint. Default: client_secret_basic for RegularWeb and
	// MachineToMachine (both methods are accepted), none for SinglePage and
	// Native, which are public clients that must use PKCE S256.
	// +optional
	TokenEndpointAuthMethod TokenEndpointAuthMethod `json:"tokenEndpointAuthMethod,omitempty"`

	// apis lists the APIs this application may get access tokens for, and
	// which of their scopes; each API may appear once. A token request for
	// any other audience or scope is refused with invalid_target /
	// invalid_scope.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	APIs []APIAccess `json:"apis,omitempty"`

	// idTokenLifetime bounds exp - iat of every ID token issued to this
	// application. ID tokens prove who logged in, to this application only;
	// the user's session is separate (Tenant spec.session) and no ID token
	// outlives it. Auth0 calls it "JWT Expiration"; Pinniped idTokenSeconds.
	// Default 10h; range 1m to 720h (30 days); capped by the Tenant's
	// spec.policy.maxIDTokenLifetime. Not allowed for MachineToMachine.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.idTokenLifetime must be a Go duration such as 15m, 1h or 10h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('720h'))",message="spec.idTokenLifetime must be between 1m and 720h (30 days)"
	IDTokenLifetime *metav1.Duration `json:"idTokenLifetime,omitempty"`

	// refreshToken configures the refresh tokens issued with the
	// authorization-code flow. Not allowed for MachineToMachine.
	// +optional
	RefreshToken *RefreshTokenSpec `json:"refreshToken,omitempty"`

	// allowedGroups assigns the application to users: only a user in at
	// least one of these groups — as the user's tokens carry them, a
	// local user's groups from the directory, a connection user's with
	// the connection's groupsPrefix (e.g. "corp:finance") — may sign in
	// to it; anyone else is sent back with error access_denied, and
	// their refresh tokens stop working (invalid_grant) once they leave
	// the groups. Without it, every user of the Tenant may sign in, and
	// any admitted application with a link can silently (prompt=none)
	// learn the email, name and groups of every signed-in user who
	// follows it. Empty: every user. At most 64. Not allowed for
	// MachineToMachine.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	AllowedGroups []string `json:"allowedGroups,omitempty"`

	// thirdParty marks an application the Tenant's owners do not run
	// themselves (a partner's, a vendor's, another team's outside the
	// Tenant's trust): before it receives anything about a user — the
	// scopes email, profile, groups, offline_access or an API's scopes —
	// the user is shown a consent page naming the application and what
	// it asks for, and may allow or deny (deny sends the application
	// error access_denied). The answer is remembered per user and
	// application for 365 days, or until the application asks for a scope
	// not yet allowed; prompt=consent asks again, and a silent request
	// (prompt=none) that would need consent gets error consent_required.
	// Default false: a first-party application is trusted and does not
	// ask, unless the Tenant's spec.consent says otherwise (it may make
	// every Application outside its namespace ask); status.consent shows
	// the outcome. Not allowed for MachineToMachine (no user is involved).
	// +optional
	ThirdParty bool `json:"thirdParty,omitempty"`
}

// APIAccess grants an application access tokens for one API.
type APIAccess struct {
	// name of the API object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the API object. Defaults to the Application's namespace.
	// The API must attach to the same Tenant.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// scopes of that API the application may request. Each must be declared
	// in the API's spec.scopes. Empty: tokens without API scopes.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Scopes []ScopeName `json:"scopes,omitempty"`
}

// ApplicationStatus reports the client as the issuer knows it and the
// effective lifetime of everything issued to it.
type ApplicationStatus struct {
	// observedGeneration is the metadata.generation this status describes;
	// -1 until the operator has observed the object for the first time, so
	// kstatus (Flux, kubectl wait) and Argo CD read a new object as in
	// progress instead of done.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled (kstatus), plus
	// TenantResolved, APIsResolved and LifetimesClamped. The Ready message
	// summarises every lifetime in one paragraph.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// clientID is the OAuth 2.0 client_id: "<name>.<namespace>".
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// credentialsSecretName is the Secret in this namespace, owned by the
	// Application, holding client-id, client-secret and issuer-url for
	// confidential clients (RegularWeb, MachineToMachine). Never set for
	// public clients.
	// +optional
	CredentialsSecretName string `json:"credentialsSecretName,omitempty"`

	// issuerURL is the Tenant's issuer identifier.
	// +optional
	IssuerURL string `json:"issuerURL,omitempty"`

	// effective is the lifetime of everything issued to this application,
	// as the issuer applies it: after a change it switches to the new values
	// only once every issuer replica serves them.
	// +optional
	Effective *ApplicationEffective `json:"effective,omitempty"`

	// effectiveSince is when the issuer started applying the lifetimes in
	// effective: the moment every live replica served them.
	// +optional
	EffectiveSince *metav1.Time `json:"effectiveSince,omitempty"`

	// previousTokensValidUntil is when the last token issued under the
	// lifetimes in force before effectiveSince expires; until then such
	// tokens may still be in circulation (JWTs keep the exp they were issued
	// with).
	// +optional
	PreviousTokensValidUntil *metav1.Time `json:"previousTokensValidUntil,omitempty"`

	// advisories are valid but risky combinations a reviewer should see.
	// +optional
	// +listType=atomic
	Advisories []Advisory `json:"advisories,omitempty"`

	// previousClientSecretValidUntil is when the client secret replaced by
	// the last rotation (annotation idtenant.dev/rotate-client-secret)
	// stops working; unset when no replaced secret is accepted.
	// +optional
	PreviousClientSecretValidUntil *metav1.Time `json:"previousClientSecretValidUntil,omitempty"`

	// consent says whether users are asked for consent before this
	// application receives anything about them: Required (spec.thirdParty,
	// or the Tenant's spec.consent covers it) or NotRequired.
	// +optional
	// +kubebuilder:validation:Enum=Required;NotRequired
	Consent string `json:"consent,omitempty"`
}

// AccessFlow says whether a token is issued in a browser flow or a standard
// flow, which decides between an API's two lifetimes.
type AccessFlow string

const (
	// FlowStandard: back-channel grants of confidential web apps, native
	// apps and machine-to-machine clients.
	FlowStandard AccessFlow = "Standard"
	// FlowBrowser: tokens delivered through the front channel (implicit or
	// hybrid response types containing "token") or issued to a SinglePage
	// application.
	FlowBrowser AccessFlow = "Browser"
)

// ApplicationEffective is the effective lifetimes matrix of an application.
type ApplicationEffective struct {
	// idToken is the longest exp - iat of ID tokens (absent for
	// MachineToMachine): spec.idTokenLifetime, at most the session's
	// absoluteTimeout unless the application may use offline_access (ID
	// tokens refreshed outside a session are not cut).
	// +optional
	IDToken *EffectiveLifetime `json:"idToken,omitempty"`

	// accessTokens lists, per API and flow, the lifetime of access tokens.
	// +optional
	// +listType=atomic
	AccessTokens []EffectiveAccessToken `json:"accessTokens,omitempty"`

	// session is the user's session at the issuer (absent for
	// MachineToMachine).
	// +optional
	Session *EffectiveSession `json:"session,omitempty"`

	// refreshToken is the effective refresh token behaviour (absent for
	// MachineToMachine).
	// +optional
	RefreshToken *EffectiveRefreshToken `json:"refreshToken,omitempty"`
}

// EffectiveAccessToken is the lifetime of access tokens for one API in one
// flow.
type EffectiveAccessToken struct {
	// api is the API object, "<namespace>/<name>".
	// +required
	API string `json:"api"`

	// audience is the "aud" claim of these tokens.
	// +required
	Audience string `json:"audience"`

	// flow is Standard or Browser.
	// +required
	Flow AccessFlow `json:"flow"`

	// flowRule says why this flow applies, e.g. "SinglePage application" or
	// "response_type containing token (front channel)".
	// +required
	FlowRule string `json:"flowRule"`

	// lifetime is the longest exp - iat of these access tokens: the API's
	// lifetime for this flow, and for an application with users at most
	// the session's absoluteTimeout (tokens expire with the session), unless
	// it may use offline_access. Machine-to-machine tokens are not cut.
	// +required
	Lifetime EffectiveLifetime `json:"lifetime"`

	// signingAlgorithm signs these tokens.
	// +required
	SigningAlgorithm SigningAlgorithm `json:"signingAlgorithm"`

	// scopes the application may request for this API.
	// +optional
	// +listType=atomic
	Scopes []string `json:"scopes,omitempty"`
}

// EffectiveRefreshToken reports refresh token behaviour in force.
type EffectiveRefreshToken struct {
	// rotation is Enabled or Disabled.
	// +required
	Rotation RefreshTokenRotation `json:"rotation"`

	// reuseInterval is the grace period for presenting a rotated token again.
	// +required
	ReuseInterval EffectiveLifetime `json:"reuseInterval"`

	// inactivityLifetime ends an unused refresh token family; with
	// sessionBinding Session it is at most the session's absoluteTimeout.
	// +required
	InactivityLifetime EffectiveLifetime `json:"inactivityLifetime"`

	// absoluteLifetime ends a family counted from the original grant; with
	// sessionBinding Session the family also ends with the session, so it
	// is at most the session's absoluteTimeout (boundBy says which).
	// +required
	AbsoluteLifetime EffectiveLifetime `json:"absoluteLifetime"`

	// sessionBinding is "Session" (refresh tokens end with the user's
	// session) or "SessionUnlessOfflineAccess" (offline_access requests get
	// tokens that outlive it).
	// +required
	SessionBinding string `json:"sessionBinding"`
}

// Application is an OAuth 2.0 / OpenID Connect client of a Tenant.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=idtenant,shortName=idapp
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="ID-Token",type=string,JSONPath=`.status.effective.idToken.duration`,description="Longest ID token lifetime in force (at most the session's absolute timeout)"
// +kubebuilder:printcolumn:name="Idle",type=string,JSONPath=`.status.effective.session.inactivityTimeout.duration`,description="Session inactivity timeout in force"
// +kubebuilder:printcolumn:name="Max-Session",type=string,JSONPath=`.status.effective.session.absoluteTimeout.duration`,priority=1
// +kubebuilder:printcolumn:name="Client-ID",type=string,JSONPath=`.status.clientID`,priority=1
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec declares the client.
	// +required
	Spec ApplicationSpec `json:"spec"`

	// status reports the client and its effective lifetimes.
	// +optional
	// +kubebuilder:default:={"observedGeneration":-1}
	Status ApplicationStatus `json:"status,omitempty"`
}

// ApplicationList is a list of Applications.
// +kubebuilder:object:root=true
type ApplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Application `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Application{}, &ApplicationList{})
}
