// Package api is the API controller: it resolves an API's Tenant, checks
// that its audience is its own, lists the Applications that may call it,
// computes its effective token lifetimes and writes its status, which says
// them only once the running issuer serves them.
//
// It must not write the Tenant's objects or another object's status; what
// it shares with the other controllers is in serving and status.
package api
