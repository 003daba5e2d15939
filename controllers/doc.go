// Package controllers runs idtenant's reconcilers. Setup wires one package
// per controller, as cert-manager lays out its controllers:
//
//   - tenant: the Tenant controller; it renders and runs one issuer per
//     Tenant and reports the effective session settings;
//   - application and api: the Application and API controllers; they
//     resolve an object's Tenant, report its effective lifetimes and
//     whether the running issuer serves them;
//   - serving: what the three share to decide whether an object is
//     served (resolution, admission, consent, audiences, the API lookup,
//     the rendered-configuration cache, dependents' watches, indexes,
//     credential names);
//   - status: how every controller writes status (kstatus conditions,
//     readiness, the deferred patch, events, the effective gate, metrics).
//
// Decisions about lifetimes live in internal/lifetime, rendering in
// internal/render, the collection of issuer state in
// internal/statecollector. This package holds no reconcile logic: only the
// wiring and the options. docs/architecture.md draws the whole picture.
package controllers
