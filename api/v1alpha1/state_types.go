package v1alpha1

// StateType names an issuer state store.
// +kubebuilder:validation:Enum=Kubernetes;Memory
type StateType string

const (
	// StateKubernetes keeps issuer state as custom resources of the
	// state.idtenant.dev group (Session, AuthorizationCode, RefreshFamily,
	// RevokedToken) in the Tenant's namespace, owned by the Tenant.
	StateKubernetes StateType = "Kubernetes"
	// StateMemory keeps issuer state in the issuer process's memory.
	StateMemory StateType = "Memory"
)

// StateSpec chooses the issuer's state store.
type StateSpec struct {
	// type is Kubernetes (default) or Memory.
	//
	// Kubernetes: state is stored as custom resources of the
	// state.idtenant.dev group (kinds Session, AuthorizationCode,
	// RefreshFamily, RevokedToken) in the Tenant's namespace, owned by the
	// Tenant, so deleting the Tenant deletes them. Users stay logged in
	// and refresh tokens keep working across issuer restarts, rollouts and
	// evictions, and every replica sees the same state. The issuer may only
	// create, get, update and delete these records (it never lists them);
	// the operator deletes expired ones and reports their numbers in
	// status.state. Each login, code and token grant costs a few writes to
	// the Kubernetes API server.
	//
	// Memory: state lives in the issuer process only. Every restart,
	// rollout, eviction or crash logs every user out and invalidates every
	// outstanding authorization code and refresh token (access and ID
	// tokens already issued keep working until they expire, and revoked
	// access tokens become accepted again until then). Only one replica is
	// allowed, since replicas would not share state. For tests and
	// throwaway tenants.
	//
	// Changing the type restarts the issuer pods; state is not migrated.
	// +optional
	Type StateType `json:"type,omitempty"`

	// quota bounds how many state records the Tenant's namespace may hold,
	// so that no user, application or flood can fill the cluster's etcd:
	// with type Kubernetes the operator renders a ResourceQuota named
	// <tenant>-state with these counts. Once a count is reached, the
	// issuer answers what would need one more record with 503
	// temporarily_unavailable (new logins, code exchanges, revocations),
	// counts it in idtenant_issuer_state_quota_refusals_total, and keeps
	// serving everything already stored; the collector makes room as
	// records expire. The quota counts every record of its kind in the
	// namespace, of all Tenants there. Default: the counts below.
	// +optional
	Quota *StateQuota `json:"quota,omitempty"`
}

// StateQuota is the number of state records of each kind a Tenant's
// namespace may hold (a ResourceQuota's count/<resource> limits). Size it
// from status.state with head room; docs/state.md has the arithmetic.
type StateQuota struct {
	// disabled renders no ResourceQuota: you bound the namespace
	// yourself (or accept that etcd is the bound). Default false.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// sessions bounds single-sign-on sessions. Default 50000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	Sessions *int64 `json:"sessions,omitempty"`

	// refreshFamilies bounds refresh token families (one per session,
	// application and audience, plus offline grants). Default 100000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	RefreshFamilies *int64 `json:"refreshFamilies,omitempty"`

	// authorizationCodes bounds authorization codes, which live a minute:
	// it caps sign-ins per minute. Default 10000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	AuthorizationCodes *int64 `json:"authorizationCodes,omitempty"`

	// revokedTokens bounds access tokens revoked before they expire.
	// Default 20000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	RevokedTokens *int64 `json:"revokedTokens,omitempty"`

	// consents bounds remembered answers to third-party applications'
	// consent pages (one per user and thirdParty Application).
	// Default 50000.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000000
	Consents *int64 `json:"consents,omitempty"`
}
