package issuer

import (
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// client is an Application as the issuer serves it; it implements op.Client
// so the library's request validation (redirect URIs, response and grant
// types) runs against our configuration.
type client struct {
	id     string
	ref    string
	spec   v1alpha1.ApplicationSpec
	eff    lifetime.Application
	public bool
	// asksConsent: users allow this application what it asks for on the
	// consent page (spec.thirdParty or the Tenant's spec.consent).
	asksConsent bool
	// secret is the SHA-256 digest of the client secret. Secrets carry 256
	// bits of entropy, so a fast digest compared in constant time is as safe
	// as a slow hash and costs microseconds per token request.
	secret [sha256.Size]byte
	// previous is the digest of the secret a rotation replaced, accepted
	// before previousUntil (zero: none).
	previous      [sha256.Size]byte
	previousUntil time.Time
	// next is the digest of a rotation's new secret (hasNext), accepted
	// before the application is handed it.
	next           [sha256.Size]byte
	hasNext        bool
	apis           []allowedAPI
	redirectURIs   []string
	postLogoutURIs []string
	responseTypes  []oidc.ResponseType
	grantTypes     []oidc.GrantType
}

var _ op.Client = (*client)(nil)

// secretMatches reports whether secret is this client's secret at now:
// the current one, the one a rotation replaced during its overlap, or the
// one a rotation is about to hand out.
func (c *client) secretMatches(secret string, now time.Time) bool {
	sum := sha256.Sum256([]byte(secret))
	current := subtle.ConstantTimeCompare(sum[:], c.secret[:]) == 1
	previous := subtle.ConstantTimeCompare(sum[:], c.previous[:]) == 1 && now.Before(c.previousUntil)
	next := subtle.ConstantTimeCompare(sum[:], c.next[:]) == 1 && c.hasNext
	return current || previous || next
}

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.postLogoutURIs }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return c.responseTypes
}
func (c *client) GrantTypes() []oidc.GrantType { return c.grantTypes }
func (c *client) LoginURL(string) string       { return "" }
func (c *client) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeJWT
}

func (c *client) ApplicationType() op.ApplicationType {
	switch c.spec.Type {
	case v1alpha1.SinglePage:
		return op.ApplicationTypeUserAgent
	case v1alpha1.Native:
		return op.ApplicationTypeNative
	default:
		return op.ApplicationTypeWeb
	}
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.public {
		return oidc.AuthMethodNone
	}
	if c.spec.TokenEndpointAuthMethod == v1alpha1.AuthMethodPost {
		return oidc.AuthMethodPost
	}
	return oidc.AuthMethodBasic
}

func (c *client) IDTokenLifetime() time.Duration {
	if c.eff.IDToken == nil {
		return 0
	}
	return c.eff.IDToken.Duration
}

// DevMode lets registered http redirect URIs through the library's check:
// admission already allows http only for loopback hosts, and matching stays
// exact.
func (c *client) DevMode() bool { return true }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed keeps every scope through the library's filter; the issuer
// refuses disallowed scopes itself with invalid_scope rather than silently
// dropping them.
func (c *client) IsScopeAllowed(string) bool           { return true }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }

// assigned reports whether the application's allowedGroups admit p (any
// user when it names none): security review N8, user assignment.
func (cl *client) assigned(p *person) bool {
	if len(cl.spec.AllowedGroups) == 0 {
		return true
	}
	if p == nil {
		return false
	}
	for _, g := range p.Groups {
		if slices.Contains(cl.spec.AllowedGroups, g) {
			return true
		}
	}
	return false
}
