package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TenantStatus reports the issuer as it is and the session lifetimes in force.
type TenantStatus struct {
	// observedGeneration is the metadata.generation this status describes;
	// -1 until the operator has observed the object for the first time, so
	// kstatus (Flux, kubectl wait) and Argo CD read a new object as in
	// progress instead of done.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling and Stalled (kstatus). Ready's message
	// summarises the session lifetimes and what is attached.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// issuerURL is the issuer identifier ("iss") tokens carry.
	// +optional
	IssuerURL string `json:"issuerURL,omitempty"`

	// discoveryURL is where clients fetch the OpenID Provider metadata.
	// +optional
	DiscoveryURL string `json:"discoveryURL,omitempty"`

	// effective holds the tenant-wide settings in force after defaults.
	// +optional
	Effective *TenantEffective `json:"effective,omitempty"`

	// applications is the number of Applications attached to this tenant.
	// +optional
	Applications int32 `json:"applications"`

	// apis is the number of APIs attached to this tenant.
	// +optional
	APIs int32 `json:"apis"`

	// issuer reports the issuer the operator runs for this tenant.
	// +optional
	Issuer *IssuerStatus `json:"issuer,omitempty"`

	// advisories are valid but risky settings a reviewer should see.
	// +optional
	// +listType=atomic
	Advisories []Advisory `json:"advisories,omitempty"`

	// audienceClaims records which namespace holds each audience of this
	// tenant: the namespace of the first API that used it, unless a
	// spec.audiences rule decides otherwise. A claim outlives the API that
	// made it, so an API deleted and recreated (a GitOps prune) gets its
	// audience back and another namespace cannot take it meanwhile; each
	// namespace keeps its 16 most recently unused claims. To move an
	// audience to another namespace, add a spec.audiences rule.
	// +optional
	// +listType=atomic
	AudienceClaims []AudienceClaim `json:"audienceClaims,omitempty"`

	// state counts the issuer's stored state and reports its garbage
	// collection. Present with the Kubernetes and PostgreSQL state stores
	// (the operator cannot see into an issuer's memory), once the
	// operator has counted the tenant's records. The operator counts them and
	// deletes the expired ones every 30s (by default) and refreshes this
	// when the numbers change, at most about once a minute; the
	// idtenant_state_* metrics follow every pass. A large backlog is
	// deleted at most 2000 records per round, rounds a few seconds apart,
	// so that the API server is never flooded; awaitingCollection shows
	// what is left meanwhile. With PostgreSQL, expired rows are deleted by
	// index range in batches of 1000, at most 20000 per Tenant and round.
	// +optional
	State *StateStatus `json:"state,omitempty"`

	// connections reports, per spec.connections entry, whether its upstream
	// answered a live discovery check, and the redirect URI to register
	// there. Checked when the connection changes and every few minutes
	// (every 30 seconds while failing).
	// +optional
	// +listType=map
	// +listMapKey=name
	Connections []ConnectionStatus `json:"connections,omitempty"`
}

// AudienceClaim says which namespace holds an audience.
type AudienceClaim struct {
	// audience is the "aud" value.
	// +required
	Audience string `json:"audience"`

	// namespace holds the audience: only its APIs may use it.
	// +required
	Namespace string `json:"namespace"`

	// api is the name of the API in namespace that uses the audience now;
	// empty while none does.
	// +optional
	API string `json:"api,omitempty"`

	// claimedAt is when namespace first held the audience.
	// +required
	ClaimedAt metav1.Time `json:"claimedAt"`

	// unusedSince is when the last API of namespace using the audience
	// went away; absent while one uses it.
	// +optional
	UnusedSince *metav1.Time `json:"unusedSince,omitempty"`
}

// StateStatus is what the operator found in a tenant's state store on its
// last pass over the tenant's records.
type StateStatus struct {
	// backend is the store these numbers come from: Kubernetes or
	// PostgreSQL.
	// +optional
	Backend StateType `json:"backend,omitempty"`

	// schema is the PostgreSQL store's schema in its database.
	// +optional
	Schema string `json:"schema,omitempty"`

	// schemaVersion is the version the operator migrated the PostgreSQL
	// store's schema to (the issuer needs the version its release
	// ships); it moves when an upgraded operator migrates.
	// +optional
	SchemaVersion int64 `json:"schemaVersion,omitempty"`

	// sessions counts live single-sign-on sessions: users who can get
	// tokens without typing a password, under the session timeouts in
	// force now.
	// +optional
	Sessions int64 `json:"sessions"`

	// refreshFamilies counts live refresh-token grants: neither revoked
	// nor expired. However often a grant's refresh token rotated, it counts
	// once.
	// +optional
	RefreshFamilies int64 `json:"refreshFamilies"`

	// awaitingCollection counts records that have expired and were not
	// deleted yet: ended sessions, expired codes, refresh-token families
	// and revoked-token records. A number that keeps growing means the
	// operator cannot keep up or cannot delete (see its logs).
	// +optional
	AwaitingCollection int64 `json:"awaitingCollection"`

	// oldestExpiredAge is how long the oldest record awaiting collection
	// has been expired, as a Go duration ("0s" when none waits). Expired
	// records do not work: this measures housekeeping, not security.
	// +optional
	OldestExpiredAge metav1.Duration `json:"oldestExpiredAge"`

	// lastCollectedAt is when the pass these numbers come from finished.
	// +optional
	LastCollectedAt *metav1.Time `json:"lastCollectedAt,omitempty"`

	// collected is how many expired records that pass deleted.
	// +optional
	Collected int64 `json:"collected"`
}

// IssuerStatus reports the rendered configuration and signing keys.
type IssuerStatus struct {
	// configGeneration is the generation of the issuer configuration the
	// operator rendered last; it increases by one with every change.
	// +optional
	ConfigGeneration int64 `json:"configGeneration,omitempty"`

	// configSecrets are the Secrets holding that configuration (compressed
	// and, for very large tenants, sharded), primary first.
	// +optional
	// +listType=atomic
	ConfigSecrets []string `json:"configSecrets,omitempty"`

	// configBytes is the compressed size of the configuration.
	// +optional
	ConfigBytes int64 `json:"configBytes,omitempty"`

	// servedApplications counts the Applications the configuration holds:
	// attached ones that resolved and passed policy.
	// +optional
	ServedApplications int32 `json:"servedApplications"`

	// servedAPIs counts the APIs the configuration holds.
	// +optional
	ServedAPIs int32 `json:"servedAPIs"`

	// keys are the published signing keys (public information only).
	// +optional
	// +listType=atomic
	Keys []SigningKeyStatus `json:"keys,omitempty"`

	// deployment is the issuer Deployment's name.
	// +optional
	Deployment string `json:"deployment,omitempty"`

	// replicas is the number of issuer replicas requested.
	// +optional
	Replicas int32 `json:"replicas,omitempty"`

	// liveReplicas counts replicas that renewed their Lease within its
	// duration (15s): issuer processes that are up. A replica that dies or
	// hangs drops out about 15s after its last renewal; one that resumes
	// counts again within a couple of seconds.
	// +optional
	LiveReplicas int32 `json:"liveReplicas"`

	// syncedReplicas counts live replicas serving configGeneration.
	// +optional
	SyncedReplicas int32 `json:"syncedReplicas"`

	// servedGeneration is the oldest generation a live replica serves:
	// everything rendered up to it is in force on every replica.
	// +optional
	ServedGeneration int64 `json:"servedGeneration,omitempty"`
}

// SigningKeyStatus describes one published key; the private half is never
// shown.
type SigningKeyStatus struct {
	// id is the JWS "kid".
	// +required
	ID string `json:"id"`
	// algorithm is RS256 or ES256.
	// +required
	Algorithm SigningAlgorithm `json:"algorithm"`
	// role is active (signs new tokens), next (published ahead of use) or
	// retiring (verifies tokens it signed until they expire).
	// +required
	Role string `json:"role"`
	// createdAt is when the key was generated.
	// +optional
	CreatedAt metav1.Time `json:"createdAt,omitzero"`
}

// TenantEffective lists the tenant-wide values the issuer applies.
type TenantEffective struct {
	// session holds the effective session timeouts.
	// +required
	Session EffectiveSession `json:"session"`

	// signingAlgorithm signs ID tokens and the access tokens of APIs that do
	// not choose their own.
	// +required
	SigningAlgorithm SigningAlgorithm `json:"signingAlgorithm"`

	// keyRotationPeriod is how often a new signing key is generated.
	// +required
	KeyRotationPeriod EffectiveLifetime `json:"keyRotationPeriod"`

	// policyMode is what happens to requests above a ceiling.
	// +required
	PolicyMode PolicyMode `json:"policyMode"`

	// replicas is the number of issuer processes requested.
	// +required
	Replicas int32 `json:"replicas"`

	// stateType is the issuer's state store in force: spec.state.type, or
	// Kubernetes when it is not set.
	// +required
	StateType StateType `json:"stateType"`
}

// EffectiveSession reports the session timeouts in force.
type EffectiveSession struct {
	// inactivityTimeout is the sliding idle window in force.
	// +required
	InactivityTimeout EffectiveLifetime `json:"inactivityTimeout"`

	// absoluteTimeout is the hard session cap in force.
	// +required
	AbsoluteTimeout EffectiveLifetime `json:"absoluteTimeout"`
}
