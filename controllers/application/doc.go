// Package application is the Application controller: it resolves an
// Application's Tenant and APIs, owns its credentials Secret (confidential
// types), computes its effective lifetimes and writes its status, which
// says them only once the running issuer serves them.
//
// It must not write the Tenant's objects or another object's status; what
// it shares with the other controllers is in serving and status.
package application
