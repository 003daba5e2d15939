package v1alpha1

// StateType names an issuer state store.
// +kubebuilder:validation:Enum=Kubernetes;Memory;PostgreSQL
type StateType string

const (
	// StateKubernetes keeps issuer state as custom resources of the
	// state.idtenant.dev group (Session, AuthorizationCode, RefreshFamily,
	// RevokedToken) in the Tenant's namespace, owned by the Tenant.
	StateKubernetes StateType = "Kubernetes"
	// StateMemory keeps issuer state in the issuer process's memory.
	StateMemory StateType = "Memory"
	// StatePostgreSQL keeps issuer state in a PostgreSQL database of
	// yours (spec.state.postgreSQL), one schema per Tenant.
	StatePostgreSQL StateType = "PostgreSQL"
)

// StateSpec chooses the issuer's state store.
// +kubebuilder:validation:XValidation:rule="(has(self.type) && self.type == 'PostgreSQL') == has(self.postgreSQL)",message="spec.state.postgreSQL is required with type PostgreSQL and allowed only with it",fieldPath=".postgreSQL",reason=FieldValueInvalid
type StateSpec struct {
	// type is Kubernetes (default), Memory or PostgreSQL.
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
	// PostgreSQL: state is stored in a PostgreSQL database you run (or a
	// managed one, or a PostgreSQL-compatible distributed database), set
	// in postgreSQL, one schema per Tenant. For Tenants whose sessions
	// would crowd the cluster's etcd: hundreds of thousands of users or
	// more. The operator creates and migrates the schema before the issuer
	// uses it and deletes expired rows; condition StateReady and
	// status.state report the database's reachability and schema version.
	//
	// Changing the type restarts the issuer pods; state is not migrated
	// (docs/state.md).
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

	// postgreSQL is where a PostgreSQL store lives; required with type
	// PostgreSQL.
	// +optional
	PostgreSQL *PostgreSQLState `json:"postgreSQL,omitempty"`
}

// PostgreSQLState is a Tenant's PostgreSQL state store.
// +kubebuilder:validation:XValidation:rule="!has(self.minConnections) || self.minConnections <= (has(self.maxConnections) ? self.maxConnections : 10)",message="minConnections must not exceed maxConnections (default 10)",fieldPath=".minConnections",reason=FieldValueInvalid
type PostgreSQLState struct {
	// secretRef names a Secret in the Tenant's namespace holding the
	// connection URL under key (default "url"), as libpq spells it:
	// postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=verify-full
	// (sslmode disable, require, verify-ca or verify-full; sslrootcert
	// may name a file only inside the issuer's image, so use a CA the
	// image trusts or verify-full with a public CA). The role needs to
	// create tables in the schema (and the schema, unless it exists).
	// The operator reads the Secret and hands the URL to the issuer
	// through its own configuration Secret only; the password never
	// appears in status, events or logs. A change to the Secret is
	// picked up at the next reconcile and restarts the issuers.
	// +required
	SecretRef SecretKeyReference `json:"secretRef"`

	// schema holds this Tenant's tables. Default idtenant_<namespace>_
	// <name> (dashes as underscores, shortened with a digest beyond 63
	// characters). A schema holds one Tenant's state: the operator claims
	// it for the Tenant's uid and refuses another Tenant pointed at it
	// (reason SchemaInUse). Changing it moves the Tenant to an empty
	// store: every user signs in again.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z_][a-z0-9_]*$`
	// +kubebuilder:validation:XValidation:rule="!self.startsWith('pg_')",message="schema names starting with pg_ are reserved by PostgreSQL"
	Schema string `json:"schema,omitempty"`

	// maxConnections bounds each issuer replica's connection pool.
	// Default 10. Size the server's max_connections for replicas ×
	// maxConnections, plus 2 for the operator.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=200
	MaxConnections *int32 `json:"maxConnections,omitempty"`

	// minConnections is how many connections each replica keeps open
	// while idle, so the first requests after a quiet spell need no
	// connection setup. Default 0; at most maxConnections.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=200
	MinConnections *int32 `json:"minConnections,omitempty"`
}

// DefaultPostgreSQLURLKey is the key PostgreSQLState.SecretRef.Key
// defaults to.
const DefaultPostgreSQLURLKey = "url"

// DefaultPostgreSQLMaxConnections is maxConnections' default.
const DefaultPostgreSQLMaxConnections int32 = 10

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
