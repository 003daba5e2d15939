// Package tenant is the Tenant controller. For each Tenant it renders the
// issuer's configuration (config Secrets, signing and state keys, users
// and connections), runs the issuer (Deployment, Service, RBAC, Lease
// slots, PodDisruptionBudget, exposure) and writes Tenant status: the
// effective session settings, what the running replicas serve, keys,
// connections and the state collector's counts.
//
// It owns Tenant status and the objects it creates in the Tenant's
// namespace. It must not write Application or API status: those
// controllers learn what was rendered through serving's rendered cache.
package tenant
