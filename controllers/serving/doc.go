// Package serving holds what the Tenant, Application and API controllers
// share to decide whether an object is served: resolving an object's
// Tenant and the Tenant's admission of its namespace, an API's consent to
// an Application, audience ownership (the oldest claim wins), the API
// lookup, the cache of what each Tenant last rendered (read to tell when
// the running issuer serves an object), the watches that wake dependents,
// the manager's cache indexes, credential names and the client-secret
// strength rule.
//
// It reads; it writes neither objects nor status, and it must not import
// the controllers that use it.
package serving
