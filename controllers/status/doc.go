// Package status is how every idtenant controller writes status: kstatus
// conditions (Ready, and Reconciling or Stalled only while true) derived
// from one readiness verdict, the deferred status patch and the marking of
// transient errors, the hold that keeps a pending status from flapping,
// Ready-transition events, the gate that moves status.effective only once
// the issuer serves it, and the status metrics.
//
// It knows no Kind's rules and reads nothing from the API server; the
// controllers decide, this package records.
package status
