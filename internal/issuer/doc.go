// Package issuer is idtenant's embedded OpenID Connect provider: it serves
// one Tenant from an issuerconfig.Document, on the zitadel/oidc op
// package's Server interface (routing, request parsing, OAuth error
// rendering, redirect URI rules), with every lifetime computed by
// internal/lifetime.
//
// Files are named by endpoint and grant, as zitadel's pkg/op names them:
// authorize.go, login.go and upstream_login.go (local and upstream login),
// token_code.go, token_refresh.go, token_client_credentials.go and
// token_fast.go (the token endpoint), endpoints.go (userinfo,
// introspection, revocation, end session), session.go, tokens.go and
// grant.go (what a token carries), config.go (the compiled document).
// Pieces with no need of the Server live beside it: signing (keys and
// JWS), limiter (login attempts), store (state backends), and command runs
// the process (flags, listeners, signals, the Kubernetes source).
//
// It must not import the operator's packages (controllers, internal/render):
// what it shares with the operator is internal/issuerconfig.
package issuer
