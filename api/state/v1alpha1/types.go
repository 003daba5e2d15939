package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SessionSpec is a user's single-sign-on session at the issuer. Its
// deadlines are not stored: they follow the Tenant's spec.session in force
// at each check, counted from authTime (absolute) and lastActivity (idle).
type SessionSpec struct {
	// sid is the public session id the issuer puts in tokens ("sid").
	// +required
	SID string `json:"sid"`
	// subject is the user's subject ("sub").
	// +required
	Subject string `json:"subject"`
	// authTime is when the user logged in; the absolute timeout counts from it.
	// +required
	AuthTime metav1.Time `json:"authTime"`
	// lastActivity is the last request made on the user's behalf; the
	// inactivity timeout counts from it.
	// +required
	LastActivity metav1.Time `json:"lastActivity"`
	// userFingerprint identifies the user's directory entry at login
	// (keyed digest of username and password hash): when the user is
	// removed or the password changes, the session ends at its next use.
	// +required
	UserFingerprint string `json:"userFingerprint"`
	// identity holds the attributes of a user who logged in through an
	// upstream connection (connection, upstream subject, email, name,
	// groups), sealed with AES-256-GCM under the tenant's state key: they
	// are personal data and never stored readable. Empty for local users.
	// +optional
	// +kubebuilder:validation:MaxLength=16384
	Identity string `json:"identity,omitempty"`
	// families are the names of the RefreshFamily records bound to this
	// session (one per application and audience), deleted with it when
	// it ends (logout, a new login).
	// +optional
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=64
	Families []string `json:"families,omitempty"`
}

// Session is an SSO session of an idtenant issuer. Its name is the keyed
// digest of the session cookie.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=idtenant-state,shortName=idsession
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.metadata.labels.state\.idtenant\.dev/tenant`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject`
// +kubebuilder:printcolumn:name="Auth-Time",type=date,JSONPath=`.spec.authTime`
// +kubebuilder:printcolumn:name="Last-Activity",type=date,JSONPath=`.spec.lastActivity`
type Session struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the session.
	// +required
	Spec SessionSpec `json:"spec"`
}

// SessionList is a list of Sessions.
// +kubebuilder:object:root=true
type SessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Sessions.
	Items []Session `json:"items"`
}

// AuthorizationCodeSpec is the grant behind an authorization code. The code
// itself is never stored: the object's name is its keyed digest.
type AuthorizationCodeSpec struct {
	// clientID is the application the code was issued to.
	// +required
	ClientID string `json:"clientID"`
	// redirectURI is the redirect_uri of the authorization request; the
	// token request must repeat it exactly.
	// +required
	RedirectURI string `json:"redirectURI"`
	// codeChallenge is the PKCE challenge (RFC 7636), if any.
	// +optional
	CodeChallenge string `json:"codeChallenge,omitempty"`
	// codeChallengeMethod is S256 or plain.
	// +optional
	CodeChallengeMethod string `json:"codeChallengeMethod,omitempty"`
	// nonce is the OpenID Connect nonce to put in the ID token.
	// +optional
	Nonce string `json:"nonce,omitempty"`
	// scopes are the granted scopes.
	// +optional
	Scopes []string `json:"scopes,omitempty"`
	// audience is the API the access token is for, if any.
	// +optional
	Audience string `json:"audience,omitempty"`
	// sessionKey is the name of the Session that authorized the code.
	// +required
	SessionKey string `json:"sessionKey"`
	// sid is the session's public id.
	// +required
	SID string `json:"sid"`
	// subject is the user's subject.
	// +required
	Subject string `json:"subject"`
	// authTime is when the user logged in.
	// +required
	AuthTime metav1.Time `json:"authTime"`
	// expiresAt is when the code stops working and the record may be
	// collected.
	// +required
	ExpiresAt metav1.Time `json:"expiresAt"`
	// redeemedAt is when the code was exchanged for tokens; unset until then.
	// +optional
	RedeemedAt *metav1.Time `json:"redeemedAt,omitempty"`
	// family is the refresh-token family the redemption started, revoked if
	// the same client replays the code.
	// +optional
	Family string `json:"family,omitempty"`
	// accessJTI is the jti of the access token the redemption issued.
	// +optional
	AccessJTI string `json:"accessJTI,omitempty"`
	// accessExp is that access token's expiry.
	// +optional
	AccessExp *metav1.Time `json:"accessExp,omitempty"`
}

// AuthorizationCode is an authorization code of an idtenant issuer, single
// use, kept until it expires so that a replay is recognised.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=idtenant-state,shortName=idcode
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.metadata.labels.state\.idtenant\.dev/tenant`
// +kubebuilder:printcolumn:name="Client",type=string,JSONPath=`.spec.clientID`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject`
// +kubebuilder:printcolumn:name="Redeemed",type=date,JSONPath=`.spec.redeemedAt`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`
type AuthorizationCode struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the code's grant.
	// +required
	Spec AuthorizationCodeSpec `json:"spec"`
}

// AuthorizationCodeList is a list of AuthorizationCodes.
// +kubebuilder:object:root=true
type AuthorizationCodeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the AuthorizationCodes.
	Items []AuthorizationCode `json:"items"`
}

// RefreshFamilySpec is one grant's chain of refresh tokens: one record
// however often it rotates.
type RefreshFamilySpec struct {
	// clientID is the application the tokens were issued to.
	// +required
	ClientID string `json:"clientID"`
	// subject is the user's subject.
	// +required
	Subject string `json:"subject"`
	// scopes are the granted scopes.
	// +optional
	Scopes []string `json:"scopes,omitempty"`
	// audience is the API the access tokens are for, if any.
	// +optional
	Audience string `json:"audience,omitempty"`
	// sessionKey is the name of the Session the family is bound to; empty
	// for offline access.
	// +optional
	SessionKey string `json:"sessionKey,omitempty"`
	// sid is the session's public id.
	// +optional
	SID string `json:"sid,omitempty"`
	// authTime is when the user logged in.
	// +required
	AuthTime metav1.Time `json:"authTime"`
	// userFingerprint identifies the user's directory entry at the grant.
	// +required
	UserFingerprint string `json:"userFingerprint"`
	// identity holds the attributes of a user who logged in through an
	// upstream connection (connection, upstream subject, email, name,
	// groups), sealed with AES-256-GCM under the tenant's state key: they
	// are personal data and never stored readable. Empty for local users.
	// +optional
	// +kubebuilder:validation:MaxLength=16384
	Identity string `json:"identity,omitempty"`
	// grantedAt is when the family began; its absolute lifetime counts from it.
	// +required
	GrantedAt metav1.Time `json:"grantedAt"`
	// lastUsed is when the current token was issued or last used; the
	// inactivity lifetime counts from it.
	// +required
	LastUsed metav1.Time `json:"lastUsed"`
	// current is the keyed digest of the token that works now.
	// +required
	Current string `json:"current"`
	// previous is the keyed digest of the token current replaced.
	// +optional
	Previous string `json:"previous,omitempty"`
	// rotatedAt is when previous was exchanged for current.
	// +optional
	RotatedAt *metav1.Time `json:"rotatedAt,omitempty"`
	// grant is a random identifier of the grant the record holds now,
	// which every refresh token of that grant carries: the record is a
	// slot that a newer sign-in of the same session and application (or
	// an offline grant beyond the application's offlineGrantsPerUser)
	// takes over, and a token of an earlier grant is refused without
	// revoking anything. Not a credential.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Grant string `json:"grant,omitempty"`
	// revokedAt is when the family was revoked; unset while it is live.
	// +optional
	RevokedAt *metav1.Time `json:"revokedAt,omitempty"`
	// expiresAt is when the record may be collected.
	// +required
	ExpiresAt metav1.Time `json:"expiresAt"`
}

// RefreshFamily is a refresh-token family of an idtenant issuer. Its name
// is the keyed digest of the family id every token of the family carries.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=idtenant-state,shortName=idrefresh
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.metadata.labels.state\.idtenant\.dev/tenant`
// +kubebuilder:printcolumn:name="Client",type=string,JSONPath=`.spec.clientID`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject`
// +kubebuilder:printcolumn:name="Last-Used",type=date,JSONPath=`.spec.lastUsed`
// +kubebuilder:printcolumn:name="Revoked",type=date,JSONPath=`.spec.revokedAt`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`
type RefreshFamily struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the family.
	// +required
	Spec RefreshFamilySpec `json:"spec"`
}

// RefreshFamilyList is a list of RefreshFamilies.
// +kubebuilder:object:root=true
type RefreshFamilyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the RefreshFamilies.
	Items []RefreshFamily `json:"items"`
}

// RevokedTokenSpec is an access token revoked before its expiry.
type RevokedTokenSpec struct {
	// clientID is the application the token was issued to.
	// +optional
	ClientID string `json:"clientID,omitempty"`
	// expiresAt is the token's own expiry; after it the record may be
	// collected, since the token no longer verifies anyway.
	// +required
	ExpiresAt metav1.Time `json:"expiresAt"`
}

// RevokedToken records a revoked access token of an idtenant issuer. Its
// name is the keyed digest of the token's jti.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=idtenant-state,shortName=idrevoked
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.metadata.labels.state\.idtenant\.dev/tenant`
// +kubebuilder:printcolumn:name="Client",type=string,JSONPath=`.spec.clientID`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`
type RevokedToken struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the revocation.
	// +required
	Spec RevokedTokenSpec `json:"spec"`
}

// RevokedTokenList is a list of RevokedTokens.
// +kubebuilder:object:root=true
type RevokedTokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the RevokedTokens.
	Items []RevokedToken `json:"items"`
}

// ConsentSpec is what a user allowed a third-party application to receive.
type ConsentSpec struct {
	// clientID is the application the user answered.
	// +required
	ClientID string `json:"clientID"`
	// subject is the user's subject.
	// +required
	Subject string `json:"subject"`
	// scopes are the scopes the user allowed: identity scopes as they
	// are (email, profile, groups, offline_access), an API's scopes as
	// "<audience> <scope>".
	// +optional
	// +kubebuilder:validation:MaxItems=256
	Scopes []string `json:"scopes,omitempty"`
	// grantedAt is when the user last answered.
	// +required
	GrantedAt metav1.Time `json:"grantedAt"`
	// expiresAt is when the answer is forgotten and the user is asked
	// again; the record may then be collected.
	// +required
	ExpiresAt metav1.Time `json:"expiresAt"`
}

// Consent records a user's answer to a third-party application's consent
// page. Its name is the keyed digest of the user and the application.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=idtenant-state,shortName=idconsent
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.metadata.labels.state\.idtenant\.dev/tenant`
// +kubebuilder:printcolumn:name="Client",type=string,JSONPath=`.spec.clientID`
// +kubebuilder:printcolumn:name="Subject",type=string,JSONPath=`.spec.subject`
// +kubebuilder:printcolumn:name="Granted",type=date,JSONPath=`.spec.grantedAt`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.spec.expiresAt`
type Consent struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the answer.
	// +required
	Spec ConsentSpec `json:"spec"`
}

// ConsentList is a list of Consents.
// +kubebuilder:object:root=true
type ConsentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the Consents.
	Items []Consent `json:"items"`
}

func init() {
	SchemeBuilder.Register(
		&Session{}, &SessionList{},
		&AuthorizationCode{}, &AuthorizationCodeList{},
		&RefreshFamily{}, &RefreshFamilyList{},
		&RevokedToken{}, &RevokedTokenList{},
		&Consent{}, &ConsentList{},
	)
}
