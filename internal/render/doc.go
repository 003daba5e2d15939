// Package render is the operator's side of the issuer contract
// (internal/issuerconfig): it turns what the Tenant reconciler gathered into
// the objects it owns — the issuer configuration document, the user
// directory parsed from an htpasswd Secret, the issuer workload (Deployment,
// Service, RBAC, PodDisruptionBudget) and its exposure. The issuer never
// imports this package; what both sides must agree on lives in
// issuerconfig. Everything here is pure: no client, no clock, deterministic
// output for the same input, so a reconcile that changes nothing writes
// nothing.
package render
