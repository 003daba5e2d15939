package issuerconfig

// Names and labels both sides derive from the Tenant's name: the operator
// creates objects under them and the issuer finds its own by them.

// IssuerName is the name shared by the issuer's Deployment, Service,
// ServiceAccount, Role and RoleBinding, and the prefix of its Lease slots.
func IssuerName(tenantName string) string { return tenantName + "-issuer" }

// SecretName is the primary configuration Secret of a tenant; further
// shards are named after it (see Secrets).
func SecretName(tenantName string) string { return tenantName + "-issuer-config" }

// Labels on every object the operator creates for a tenant's issuer.
const (
	// LabelTenant names the Tenant an object belongs to.
	LabelTenant = "idtenant.dev/tenant"
	// LabelManagedBy is the standard label, set to ManagedByValue.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue marks objects idtenant created.
	ManagedByValue = "idtenant"
)
