package issuer

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// grant is what one token issuance is about: who, for which client and API,
// with which scopes, in which flow, bounded by which session.
type grant struct {
	grantType string // metric label: authorization_code, refresh_token, client_credentials, implicit
	client    *client
	api       *allowedAPI // nil: a userinfo-only access token
	scopes    []string
	subject   string
	// person is the user (nil for client_credentials): the attributes
	// their tokens may release.
	person *person
	// frontChannel: delivered by the authorization endpoint (implicit or
	// hybrid); decides the browser-flow lifetime with the application type.
	frontChannel bool
	// deadline is the session's absolute deadline, zero when no session
	// bounds the tokens (client_credentials, offline access).
	deadline time.Time
	authTime time.Time
	sid      string
	nonce    string
	// jti of the access token; generated at minting when empty.
	jti string
	// accessAlg and idAlg are the algorithms the access and ID token of
	// this grant were signed with (metric label).
	accessAlg, idAlg string
}

// userScopes are the OpenID Connect scopes any user-facing application may
// request besides its APIs' scopes.
var userScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, scopeGroups, oidc.ScopeOfflineAccess}

// resolveTarget finds the API named by the audience or resource parameter
// (RFC 8707). It returns nil when neither is given; an API the application
// may not use is invalid_target.
func resolveTarget(cl *client, form url.Values) (*allowedAPI, error) {
	aud := form.Get("audience")
	res := form["resource"]
	if len(res) > 1 || len(form["audience"]) > 1 {
		return nil, oidc.ErrInvalidTarget().WithDescription("only one audience or resource may be requested")
	}
	if len(res) == 1 {
		if aud != "" && aud != res[0] {
			return nil, oidc.ErrInvalidTarget().WithDescription("audience and resource name different APIs")
		}
		aud = res[0]
	}
	if aud == "" {
		return nil, nil
	}
	a, ok := cl.apiByAudience(aud)
	if !ok {
		return nil, oidc.ErrInvalidTarget().WithDescription("this application may not get tokens for the requested audience")
	}
	return &a, nil
}

// resolveScopes checks every requested scope: OpenID Connect scopes for
// user-facing applications, and the scopes the application was granted on
// the target API. Anything else is invalid_scope, never silently dropped.
func resolveScopes(requested []string, api *allowedAPI, user bool) ([]string, error) {
	var out []string
	for _, s := range requested {
		switch {
		case slices.Contains(out, s):
		case user && slices.Contains(userScopes, s):
			out = append(out, s)
		case api != nil && slices.Contains(api.scopes, s):
			out = append(out, s)
		default:
			return nil, oidc.ErrInvalidScope().WithDescription("scope %q is not allowed for this application and audience", sanitize(s))
		}
	}
	return out, nil
}

// hasScope reports whether s was granted.
func hasScope(scopes []string, s string) bool { return slices.Contains(scopes, s) }

// accessPlan is what an access token for a grant will say.
type accessPlan struct {
	aud string
	alg v1alpha1.SigningAlgorithm
	exp time.Time
}

// planAccess decides an access token's audience, algorithm and expiry
// without signing, so a redemption can record them first.
func (c *config) planAccess(g *grant, now time.Time) (accessPlan, error) {
	var (
		life   lifetime.Setting
		p      = accessPlan{alg: c.tenant.SigningAlgorithm}
		appEff = g.client.eff
	)
	flow, _ := lifetime.FlowFor(g.client.spec.Type, g.frontChannel)
	if g.api != nil {
		t, ok := appEff.Lookup(g.api.api.ref, flow)
		if !ok {
			return p, oidc.ErrInvalidTarget().WithDescription("no %s-flow access tokens for this audience", strings.ToLower(string(flow)))
		}
		life, p.aud, p.alg = t.Lifetime, g.api.api.eff.Audience, g.api.api.eff.SigningAlgorithm
	} else {
		var ok bool
		if life, ok = appEff.UserInfoAccessToken(); !ok {
			return p, oidc.ErrInvalidTarget().WithDescription("an audience is required")
		}
		p.aud = c.issuer + pathUserinfo
	}
	p.exp = lifetime.TokenExpiry(now, life.Duration, g.deadline)
	return p, nil
}

// mintAccess signs an access token for g at now.
func (c *config) mintAccess(g *grant, now time.Time) (string, time.Time, error) {
	p, err := c.planAccess(g, now)
	if err != nil {
		return "", time.Time{}, err
	}
	if g.jti == "" {
		g.jti = randomID()
	}
	claims := accessClaims{
		Issuer: c.issuer, Subject: g.subject, Audience: p.aud,
		Expiry: p.exp.Unix(), IssuedAt: now.Unix(), JTI: g.jti,
		ClientID: g.client.id, Scope: strings.Join(g.scopes, " "), SID: g.sid,
	}
	if !g.authTime.IsZero() {
		claims.AuthTime = g.authTime.Unix()
		claims.Federated = g.person.federated()
		if g.api != nil {
			claims.Email, claims.Groups = apiUserClaims(g.api.api, g.person)
			if claims.Email != "" {
				// Whether the address was verified travels with it, so an
				// API never takes an upstream user's unverified address for
				// proof of who they are (security review N6).
				verified := g.person.EmailVerified
				claims.EmailVerified = &verified
			}
		} else if fed := claims.Federated; fed != nil {
			// Only userinfo reads this token: an upstream user's
			// attributes are in no directory it could look them up in,
			// so the token carries what the scopes release.
			u := claimsFor(g.person, g.scopes)
			claims.Federated, claims.PreferredUsername, claims.Name = fed, u.PreferredUsername, u.Name
			claims.Email, claims.EmailVerified, claims.Groups = u.Email, u.EmailVerified, u.Groups
		}
	}
	tok, err := sign(c.keys.Active[p.alg].At, &claims)
	if err != nil {
		return "", time.Time{}, oidc.ErrServerError().WithParent(err)
	}
	g.accessAlg = string(p.alg)
	return tok, p.exp, nil
}

// mintID signs an ID token for g at now; accessToken and code, when
// present, are bound with at_hash and c_hash.
func (c *config) mintID(g *grant, now time.Time, accessToken, code string) (string, error) {
	if g.client.eff.IDToken == nil {
		return "", oidc.ErrInvalidRequest().WithDescription("this application gets no ID tokens")
	}
	exp := lifetime.TokenExpiry(now, g.client.eff.IDToken.Duration, g.deadline)
	alg := string(c.tenant.SigningAlgorithm)
	claims := idClaims{
		Issuer: c.issuer, Subject: g.subject, Audience: g.client.id, AZP: g.client.id,
		Expiry: exp.Unix(), IssuedAt: now.Unix(), AuthTime: g.authTime.Unix(),
		Nonce: g.nonce, SID: g.sid, userClaims: claimsFor(g.person, g.scopes),
		Federated: g.person.federated(),
	}
	if accessToken != "" {
		claims.AtHash = hashClaim(accessToken, alg)
	}
	if code != "" {
		claims.CHash = hashClaim(code, alg)
	}
	tok, err := sign(c.keys.Active[c.tenant.SigningAlgorithm].JWT, &claims)
	if err != nil {
		return "", oidc.ErrServerError().WithParent(err)
	}
	g.idAlg = alg
	return tok, nil
}

// sanitize keeps error descriptions to the characters RFC 6749 allows and
// short, since they may echo caller input.
func sanitize(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
