// Package render turns what the Tenant reconciler gathered into the objects
// it owns: the issuer configuration document and the Secrets that carry it,
// the user directory parsed from an htpasswd Secret, and (later) the issuer
// workload. Everything here is pure: no client, no clock, deterministic
// output for the same input, so a reconcile that changes nothing writes
// nothing.
package render
