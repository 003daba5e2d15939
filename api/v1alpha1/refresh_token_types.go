package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RefreshTokenRotation switches refresh token rotation on or off.
// +kubebuilder:validation:Enum=Enabled;Disabled
type RefreshTokenRotation string

const (
	// RotationEnabled issues a new refresh token on every refresh and
	// invalidates the old one; reusing an old one revokes the whole family.
	RotationEnabled RefreshTokenRotation = "Enabled"
	// RotationDisabled keeps the same refresh token for its whole life.
	RotationDisabled RefreshTokenRotation = "Disabled"
)

// RefreshTokenSpec configures refresh tokens. Refresh tokens are bound to the
// user's session — they stop working when it ends — unless allowOfflineAccess
// is true and the application requested the offline_access scope; then only
// the lifetimes below apply.
// +kubebuilder:validation:XValidation:rule="!has(self.inactivityLifetime) || !self.inactivityLifetime.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (has(self.absoluteLifetime) ? (!self.absoluteLifetime.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || duration(self.inactivityLifetime) <= duration(self.absoluteLifetime)) : duration(self.inactivityLifetime) <= duration('720h'))",message="spec.refreshToken.inactivityLifetime must not exceed spec.refreshToken.absoluteLifetime (default 720h)",fieldPath=".inactivityLifetime",reason=FieldValueInvalid
// +kubebuilder:validation:XValidation:rule="!has(self.reuseInterval) || !has(self.rotation) || self.rotation == 'Enabled'",message="spec.refreshToken.reuseInterval applies only when rotation is Enabled",fieldPath=".reuseInterval",reason=FieldValueForbidden
type RefreshTokenSpec struct {
	// rotation is Enabled (default) or Disabled. With rotation every refresh
	// returns a new refresh token and the old one stops working; presenting
	// an already rotated token is treated as theft and revokes every token
	// of that grant (reuse detection).
	// +optional
	Rotation RefreshTokenRotation `json:"rotation,omitempty"`

	// reuseInterval tolerates a client presenting the previous refresh
	// token again for this long after rotation without revoking the
	// family: a client whose response was lost (a dropped connection, a
	// proxy reload, a replica killed) retries with the token it sent and
	// gets the very successor it missed, not a new one. After the window,
	// presenting it is reuse and revokes every token of the grant. 0s
	// revokes on any reuse. Default 10s; range 0s to 5m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^(0|([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+)$')",message="spec.refreshToken.reuseInterval must be a Go duration such as 0s, 10s or 1m"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^(0|([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+)$') || (duration(self == '0' ? '0s' : self) <= duration('5m'))",message="spec.refreshToken.reuseInterval must be between 0s and 5m"
	ReuseInterval *metav1.Duration `json:"reuseInterval,omitempty"`

	// inactivityLifetime ends a refresh token (family) that is not used for
	// this long. Each refresh restarts the window. Default 360h (15 days);
	// range 1m to 8760h; at most absoluteLifetime; capped by the Tenant's
	// spec.policy.maxRefreshTokenLifetime.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.refreshToken.inactivityLifetime must be a Go duration such as 24h or 360h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('8760h'))",message="spec.refreshToken.inactivityLifetime must be between 1m and 8760h (365 days)"
	InactivityLifetime *metav1.Duration `json:"inactivityLifetime,omitempty"`

	// absoluteLifetime ends a refresh token family this long after the
	// original grant, however often it was rotated. Default 720h (30 days);
	// range 1m to 8760h; capped by the Tenant's
	// spec.policy.maxRefreshTokenLifetime.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$')",message="spec.refreshToken.absoluteLifetime must be a Go duration such as 168h or 720h"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') || (duration(self) >= duration('1m') && duration(self) <= duration('8760h'))",message="spec.refreshToken.absoluteLifetime must be between 1m and 8760h (365 days)"
	AbsoluteLifetime *metav1.Duration `json:"absoluteLifetime,omitempty"`

	// allowOfflineAccess lets the application request the offline_access
	// scope. Refresh tokens issued with it are not bound to the user's
	// session: they keep working after logout or session expiry, until their
	// own lifetimes end. Default false.
	// +optional
	AllowOfflineAccess bool `json:"allowOfflineAccess,omitempty"`

	// offlineGrantsPerUser bounds the offline grants (refresh token
	// families requested with offline_access) one user holds with this
	// application at once: one per device or installation, typically. A
	// grant beyond the bound replaces the user's least recently used one,
	// whose refresh token is then refused (invalid_grant) without
	// revoking anything else. Refresh tokens bound to a session need no
	// bound: there is one per (session, application), and a new sign-in
	// of the application in that session replaces it. Default 10; range
	// 1 to 100.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	OfflineGrantsPerUser *int32 `json:"offlineGrantsPerUser,omitempty"`
}
