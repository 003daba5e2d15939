package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition types. Ready, Reconciling and Stalled follow kstatus, so Argo CD,
// Flux and `kubectl wait --for=condition=Ready` understand every idtenant
// object; Reconciling and Stalled are present only while true.
const (
	ConditionReady            = "Ready"
	ConditionReconciling      = "Reconciling"
	ConditionStalled          = "Stalled"
	ConditionTenantResolved   = "TenantResolved"
	ConditionAPIsResolved     = "APIsResolved"
	ConditionLifetimesClamped = "LifetimesClamped"
	// ConditionIssuerAvailable: at least one issuer replica is up.
	ConditionIssuerAvailable = "IssuerAvailable"
	// ConditionIssuerSynced: every live replica serves the newest generation.
	ConditionIssuerSynced = "IssuerSynced"
	// ConditionExposed: the issuer's HTTPRoute was accepted by its Gateway
	// (Accepted and ResolvedRefs), or its Ingress has an address. Present
	// only with spec.exposure.
	ConditionExposed = "Exposed"
	// ConditionConnectionsReady: every upstream connection answered its
	// live discovery check (absent without spec.connections).
	ConditionConnectionsReady = "ConnectionsReady"
	// ConditionStateReady: the Tenant's PostgreSQL state store is
	// reachable and its schema migrated to the version the issuer needs
	// (absent with the Kubernetes and Memory stores).
	ConditionStateReady = "StateReady"
)

// StateReady reasons.
const (
	// ReasonStateReady: reachable, schema at the version the issuer needs.
	ReasonStateReady = "Ready"
	// ReasonStateChecking: the first check of this database is under way.
	ReasonStateChecking = "Checking"
	// ReasonStateSecretMissing: spec.state.postgreSQL.secretRef names a
	// Secret or key that does not exist, or a URL that does not parse.
	ReasonStateSecretMissing = "SecretMissing"
	// ReasonStateUnreachable: the database refused or did not answer.
	ReasonStateUnreachable = "Unreachable"
	// ReasonStateMigrationFailed: the schema could not be created or
	// migrated (privileges, a schema of another application).
	ReasonStateMigrationFailed = "MigrationFailed"
	// ReasonStateSchemaInUse: the schema holds another Tenant's state.
	ReasonStateSchemaInUse = "SchemaInUse"
)

// Condition reasons, CamelCase as metav1.Condition requires.
const (
	ReasonReady               = "Ready"
	ReasonProgressing         = "Progressing"
	ReasonResolved            = "Resolved"
	ReasonTenantNotFound      = "TenantNotFound"
	ReasonNamespaceNotAllowed = "NamespaceNotAllowed"
	ReasonTenantNotReady      = "TenantNotReady"
	ReasonAPINotFound         = "APINotFound"
	ReasonAPIInOtherTenant    = "APIInOtherTenant"
	ReasonScopeNotDefined     = "ScopeNotDefined"
	ReasonAudienceConflict    = "AudienceConflict"
	ReasonPolicyViolation     = "PolicyViolation"
	ReasonClamped             = "Clamped"
	ReasonWithinPolicy        = "WithinPolicy"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonCredentialsError    = "CredentialsError"
	ReasonUsersSecretMissing  = "UsersSecretMissing"
	ReasonUsersSecretInvalid  = "UsersSecretInvalid"
	ReasonKeysInvalid         = "KeysInvalid"
	ReasonReconcileError      = "ReconcileError"
	ReasonReplicasServing     = "ReplicasServing"
	ReasonNoReplicaReporting  = "NoReplicaReporting"
	ReasonGenerationPending   = "GenerationPending"
	ReasonGenerationServed    = "GenerationServed"
	ReasonIssuerPending       = "IssuerPending"
	ReasonForeignObject       = "ForeignObject"
	// ReasonAPINotShared: an Application lists an API whose
	// spec.allowedApplications does not admit the Application's namespace.
	ReasonAPINotShared = "APINotShared"
	// ReasonAudienceNotAllowed: the Tenant's spec.audiences reserves the
	// API's audience for other namespaces.
	ReasonAudienceNotAllowed = "AudienceNotAllowed"
	// ReasonIssuerURLConflict: an older Tenant already uses the same
	// spec.issuerURL.
	ReasonIssuerURLConflict = "IssuerURLConflict"
	// ReasonWeakClientSecret: the client secret in the credentials Secret
	// carries less than 256 bits of entropy.
	ReasonWeakClientSecret = "WeakClientSecret"
	// ReasonNamespaceNotServed: the operator runs with --tenant-namespaces
	// and the Tenant is in none of them.
	ReasonNamespaceNotServed = "NamespaceNotServed"
	// Exposed reasons: ReasonRouteAccepted (the Gateway accepted the
	// HTTPRoute and resolved its backend), ReasonRouteNotAccepted (it did
	// not; the message carries the Gateway's reason), ReasonAddressAssigned
	// (the Ingress has an address), ReasonWaitingForController (no answer
	// from the Gateway's or ingress controller yet), and
	// ReasonGatewayAPIMissing (the Gateway API CRDs are not installed).
	ReasonRouteAccepted        = "RouteAccepted"
	ReasonRouteNotAccepted     = "RouteNotAccepted"
	ReasonAddressAssigned      = "AddressAssigned"
	ReasonWaitingForController = "WaitingForController"
	ReasonGatewayAPIMissing    = "GatewayAPIMissing"
	// ReasonCertificateNotReady: the cert-manager Certificate of the
	// issuer's Ingress is not Ready; ReasonCertManagerMissing: cert-manager
	// is not installed.
	ReasonCertificateNotReady = "CertificateNotReady"
	ReasonCertManagerMissing  = "CertManagerMissing"
	// ReasonExposureInvalid: the API server refused the rendered HTTPRoute,
	// Ingress or Certificate.
	ReasonExposureInvalid = "ExposureInvalid"
	// ReasonClusterIssuerNotAllowed: spec.exposure.ingress.certManager
	// names a cluster-scoped issuer the operator's --allowed-cluster-issuers
	// does not list; no Certificate is requested.
	ReasonClusterIssuerNotAllowed = "ClusterIssuerNotAllowed"
	// ReasonIngressAnnotationNotAllowed: spec.exposure.ingress.annotations
	// sets an annotation the operator's --allowed-ingress-annotations does
	// not allow; the Ingress is not updated.
	ReasonIngressAnnotationNotAllowed = "IngressAnnotationNotAllowed"
	// ConnectionsReady reasons, also used per connection in
	// status.connections: ReasonConnectionsReady (all answered),
	// ReasonDiscoveryPending (the first check of an upstream is under way;
	// the Tenant is updated when it ends),
	// ReasonDiscoveryFailed (unreachable or no valid discovery document),
	// ReasonIssuerMismatch (discovery names another issuer),
	// ReasonClientSecretMissing (the Secret or its key does not exist),
	// ReasonClientSecretRefused (the Secret is idtenant's own, or its
	// AnnotationConnectionIssuer does not name the connection's issuer), ReasonUnrestricted (ready, but a
	// provider anyone can register at admits everyone: no allowedDomains
	// or allowedGroups).
	ReasonConnectionsReady    = "Ready"
	ReasonDiscoveryFailed     = "DiscoveryFailed"
	ReasonDiscoveryPending    = "Checking"
	ReasonIssuerMismatch      = "IssuerMismatch"
	ReasonClientSecretMissing = "ClientSecretMissing"
	ReasonClientSecretRefused = "ClientSecretRefused"
	ReasonUnrestricted        = "Unrestricted"
)

// AnnotationRotateClientSecret on an Application asks for a new client
// secret whenever its value changes (write a date or a ticket number):
// the operator generates a new client-secret in the credentials Secret
// and keeps the replaced one as previous-client-secret, which the issuer
// still accepts for 24 hours (status.previousClientSecretValidUntil), so
// that the application's replicas move to the new one without an outage.
// Deleting previous-client-secret from the Secret ends the overlap at
// once.
const AnnotationRotateClientSecret = "idtenant.dev/rotate-client-secret"

// AnnotationRotateSealingKey on a Tenant asks for a new sealing key
// whenever its value changes (write a date): what the issuer seals from then
// on (pending sign-ins, the state sent to upstreams, upstream users'
// attributes in records, CSRF tokens) uses the new key; the replaced one
// still opens short-lived values for 10 minutes and sealed identities until
// the longest session or refresh token that may hold one has ended. Use it
// when the signing-keys Secret may have leaked; the key also rotates every
// spec.keyRotationPeriod. Nobody is logged out.
const AnnotationRotateSealingKey = "idtenant.dev/rotate-sealing-key"

// AnnotationConnectionIssuer must name, on a Secret a connection's
// clientSecretRef names, the issuer URL the connection sends the secret
// to: the issuer presents it to the upstream the Tenant names, so the
// Secret's writer says which one (security review N7: otherwise editing a
// Tenant would let anyone send any Secret of the namespace, or a secret
// meant for one provider, to a host of their choosing).
const AnnotationConnectionIssuer = "idtenant.dev/connection-issuer"

// GetConditions returns the status conditions (used by generic status code).
func (t *Tenant) GetConditions() []metav1.Condition { return t.Status.Conditions }

// SetConditions replaces the status conditions.
func (t *Tenant) SetConditions(c []metav1.Condition) { t.Status.Conditions = c }

// GetConditions returns the status conditions.
func (a *Application) GetConditions() []metav1.Condition { return a.Status.Conditions }

// SetConditions replaces the status conditions.
func (a *Application) SetConditions(c []metav1.Condition) { a.Status.Conditions = c }

// GetConditions returns the status conditions.
func (a *API) GetConditions() []metav1.Condition { return a.Status.Conditions }

// SetConditions replaces the status conditions.
func (a *API) SetConditions(c []metav1.Condition) { a.Status.Conditions = c }
