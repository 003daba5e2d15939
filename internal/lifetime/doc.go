// Package lifetime turns Tenant, Application and API specs into the
// lifetimes the issuer really applies, each with the setting that decided it.
//
// It is the single source of truth for lifetimes: the operator writes its
// results into status and the issuer calls the same functions when it mints
// tokens and checks sessions, so the two cannot disagree. Everything here is
// pure: no client, no clock (callers pass "now"), no I/O. It takes plain
// inputs (a name, which boundBy cites, and a spec), not API objects, so the
// issuer feeds it its configuration document as it is. What only status
// needs (advisories, the summary sentence) are separate methods the issuer
// never calls.
//
// The rules (README.md, "The five lifetimes"):
//   - Defaults fill what the spec leaves out; they are never written back.
//   - Policy ceilings (Tenant spec.policy) cap values. In Clamp mode a value
//     above a ceiling is replaced by it; in Reject mode a value somebody wrote
//     above a ceiling refuses the object. Defaults above a ceiling are lowered
//     in both modes: only an explicit request can be refused.
//   - An API's browser-flow lifetime never exceeds its standard lifetime.
//   - A session's idle window never exceeds its absolute cap.
//   - Tokens issued for a user never outlive the session's absolute deadline
//     (see TokenExpiry).
//   - Status reports what a token can reach: for what is issued on behalf of
//     a user, min(lifetime, session absoluteTimeout), computed as TokenExpiry
//     of a token issued at the moment of login (Session.Reach), with the cut
//     lifetime kept as Configured. Machine-to-machine tokens and tokens
//     refreshed with offline_access have no session and are not cut.
package lifetime
