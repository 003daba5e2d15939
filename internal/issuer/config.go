package issuer

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/crypto/bcrypt"

	"github.com/idtenant/idtenant/api/v1alpha1"
	signing "github.com/idtenant/idtenant/internal/issuer/signing"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/lifetime"
)

// config is one generation of issuer configuration compiled for serving. It
// is immutable once built: the server swaps a pointer to a new one, so a
// request sees one consistent generation from start to end.
type config struct {
	generation int64
	// issuer is the issuer URL without a trailing slash; path is its path
	// (requests arrive under it).
	issuer, path string
	secure       bool // https issuer: Secure, __Host- cookies
	cookies      cookies
	tenant       lifetime.Tenant
	// tenantNamespace and consentPolicy decide which clients ask for
	// consent (v1alpha1.ConsentRequired).
	tenantNamespace string
	consentPolicy   v1alpha1.ConsentPolicy
	clients         map[string]*client // by client_id
	apis            map[string]*apiEntry
	users           map[string]login // by username, for the login page
	// people are the directory's users by subject, for their claims.
	people map[string]*issuerconfig.User
	// fingerprints (by subject) identify each user's directory entry (username and
	// password hash, keyed): a session or refresh family whose fingerprint
	// no longer matches belongs to a removed user or an old password.
	fingerprints map[string]string
	// dummyCost is the bcrypt cost compared against for unknown usernames:
	// the cost most users' hashes have, so an unknown user takes as long as
	// a known one with a wrong password.
	dummyCost int
	// displayName is the Tenant's name for users (spec.displayName, or
	// its name).
	displayName string
	// connections are the upstream providers (spec.connections) by name,
	// and in the order the login page offers them.
	connections     map[string]*connection
	connectionOrder []*connection
	// stateKey derives record keys and refresh token successors (see
	// state.go); it never rotates.
	stateKey []byte
	// sealing is the sealing ring, current key first.
	sealing []sealingKey
	keys    *signing.KeySet
	origins map[string]bool // union of allowedOrigins, for CORS
	// trustedProxies decide which client address the login limits count.
	trustedProxies trustedProxies
	discovery      []byte
}

// login is what the login page checks for a username.
type login struct {
	hash    []byte
	subject string
}

type apiEntry struct {
	ref    string
	eff    lifetime.API
	scopes map[string]bool
	// userClaims the API reads from user access tokens.
	userClaims []v1alpha1.UserClaim
}

// allowedAPI is an API as one application may use it.
type allowedAPI struct {
	api    *apiEntry
	scopes []string // the scopes this application may get
}

// compile turns a parsed document into a serving configuration. Anything
// that cannot serve (a bad key, an algorithm without an active key) is an
// error, and the previous generation stays in force.
func compile(doc *issuerconfig.Document, fallbackStateKey []byte) (*config, error) {
	iss := strings.TrimSuffix(doc.Tenant.Spec.IssuerURL, "/")
	u, err := url.Parse(iss)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("tenant.spec.issuerURL %q is not an absolute http(s) URL", doc.Tenant.Spec.IssuerURL)
	}
	keys, err := signing.CompileKeys(doc.Keys)
	if err != nil {
		return nil, err
	}
	c := &config{
		generation:      doc.Generation,
		issuer:          iss,
		path:            strings.TrimSuffix(u.Path, "/"),
		secure:          u.Scheme == "https",
		cookies:         cookieNames(u.Scheme == "https", strings.TrimSuffix(u.Path, "/")),
		tenant:          lifetime.ForTenant(doc.Tenant.Name, doc.Tenant.Spec),
		tenantNamespace: doc.Tenant.Namespace,
		consentPolicy:   doc.Tenant.Spec.Consent,
		clients:         map[string]*client{},
		apis:            map[string]*apiEntry{},
		users:           map[string]login{},
		people:          map[string]*issuerconfig.User{},
		fingerprints:    map[string]string{},
		stateKey:        doc.StateKey,
		keys:            keys,
		origins:         map[string]bool{},
	}
	if _, ok := keys.Active[c.tenant.SigningAlgorithm]; !ok {
		return nil, fmt.Errorf("no active %s key for the tenant's signingAlgorithm", c.tenant.SigningAlgorithm)
	}
	for _, a := range doc.APIs {
		eff := lifetime.ForAPI(c.tenant, a.Namespace, a.Name, a.Spec)
		if eff.Enforcement.Rejected() {
			continue // policy Reject keeps the object out of the issuer
		}
		if _, ok := keys.Active[eff.SigningAlgorithm]; !ok {
			return nil, fmt.Errorf("api %s: no active %s key", a.Ref(), eff.SigningAlgorithm)
		}
		e := &apiEntry{ref: a.Ref(), eff: eff, scopes: map[string]bool{}, userClaims: a.Spec.UserClaims}
		for _, s := range a.Spec.Scopes {
			e.scopes[string(s.Name)] = true
		}
		c.apis[e.ref] = e
	}
	for i := range doc.Applications {
		cl, err := c.compileClient(&doc.Applications[i])
		if err != nil {
			return nil, err
		}
		if cl == nil {
			continue
		}
		c.clients[cl.id] = cl
		for _, o := range cl.spec.AllowedOrigins {
			c.origins[string(o)] = true
		}
	}
	if c.trustedProxies, err = compileTrustedProxies(doc.Tenant.Spec.TrustedProxies); err != nil {
		return nil, err
	}
	c.displayName = doc.Tenant.Spec.DisplayName
	if c.displayName == "" {
		c.displayName = doc.Tenant.Name
	}
	if len(c.stateKey) == 0 {
		c.stateKey = fallbackStateKey
	}
	c.sealing = compileSealingKeys(doc.SealingKeys, c.stateKey)
	costs := map[int]int{}
	c.dummyCost = bcrypt.DefaultCost
	for i := range doc.Users {
		u := &doc.Users[i]
		c.users[u.Username] = login{hash: []byte(u.PasswordHash), subject: u.Subject()}
		c.people[u.Subject()] = u
		if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil {
			if costs[cost]++; costs[cost] > costs[c.dummyCost] || (costs[cost] == costs[c.dummyCost] && cost > c.dummyCost) {
				c.dummyCost = cost
			}
		}
		c.fingerprints[u.Subject()] = base64.RawURLEncoding.EncodeToString(derive(c.stateKey, purposeUser, u.Subject(), u.Username, u.PasswordHash)[:18])
	}
	if err := compileConnections(c, doc); err != nil {
		return nil, err
	}
	if c.discovery, err = json.Marshal(c.discoveryDocument()); err != nil {
		return nil, fmt.Errorf("rendering discovery: %w", err)
	}
	return c, nil
}

// appName is an application's name for users: spec.displayName, or the
// Application's name.
func (c *config) appName(clientID string) string {
	cl, ok := c.clients[clientID]
	if !ok {
		return ""
	}
	if cl.spec.DisplayName != "" {
		return cl.spec.DisplayName
	}
	_, name, _ := strings.Cut(cl.ref, "/")
	return name
}

// apiByAudience finds the API an application may use for a requested
// audience (or resource indicator).
func (cl *client) apiByAudience(aud string) (allowedAPI, bool) {
	for _, a := range cl.apis {
		if a.api.eff.Audience == aud {
			return a, true
		}
	}
	return allowedAPI{}, false
}

func (c *config) compileClient(a *issuerconfig.Application) (*client, error) {
	spec := a.Spec
	cl := &client{id: a.ClientID, ref: a.Ref(), spec: spec,
		asksConsent: v1alpha1.ConsentRequired(c.consentPolicy, c.tenantNamespace, a.Namespace, &spec)}
	// Resolve the APIs this application may call; ones missing from the
	// document (not attached to this tenant, or rejected) are left out, and
	// ForApplication gets the matching, filtered spec.APIs.
	var effAPIs []lifetime.API
	var kept []v1alpha1.APIAccess
	for _, access := range spec.APIs {
		ns := access.Namespace
		if ns == "" {
			ns = a.Namespace
		}
		e, ok := c.apis[ns+"/"+access.Name]
		if !ok {
			continue
		}
		var scopes []string
		for _, s := range access.Scopes {
			if e.scopes[string(s)] {
				scopes = append(scopes, string(s))
			}
		}
		cl.apis = append(cl.apis, allowedAPI{api: e, scopes: scopes})
		effAPIs = append(effAPIs, e.eff)
		kept = append(kept, access)
	}
	spec.APIs = kept
	cl.eff = lifetime.ForApplication(c.tenant, a.Name, spec, effAPIs)
	if cl.eff.Enforcement.Rejected() {
		return nil, nil
	}
	switch spec.Type {
	case v1alpha1.SinglePage, v1alpha1.Native:
		cl.public = true
	default:
		if spec.TokenEndpointAuthMethod == v1alpha1.AuthMethodNone {
			cl.public = true
		}
	}
	if !cl.public {
		d, err := hex.DecodeString(a.SecretSHA256)
		if err != nil || len(d) != len(cl.secret) {
			return nil, fmt.Errorf("applications %s: secretSHA256 must be 64 hex digits", a.Ref())
		}
		copy(cl.secret[:], d)
		if p := a.PreviousSecret; p != nil {
			d, err := hex.DecodeString(p.SHA256)
			if err != nil || len(d) != len(cl.previous) {
				return nil, fmt.Errorf("applications %s: previousSecret.sha256 must be 64 hex digits", a.Ref())
			}
			copy(cl.previous[:], d)
			cl.previousUntil = p.ValidUntil
		}
		if a.NextSecretSHA256 != "" {
			d, err := hex.DecodeString(a.NextSecretSHA256)
			if err != nil || len(d) != len(cl.next) {
				return nil, fmt.Errorf("applications %s: nextSecretSHA256 must be 64 hex digits", a.Ref())
			}
			copy(cl.next[:], d)
			cl.hasNext = true
		}
	}
	for _, u := range spec.RedirectURIs {
		cl.redirectURIs = append(cl.redirectURIs, string(u))
	}
	for _, u := range spec.PostLogoutRedirectURIs {
		cl.postLogoutURIs = append(cl.postLogoutURIs, string(u))
	}
	if spec.Type == v1alpha1.MachineToMachine {
		cl.grantTypes = []oidc.GrantType{oidc.GrantTypeClientCredentials}
		return cl, nil
	}
	cl.grantTypes = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	rts := spec.ResponseTypes
	if len(rts) == 0 {
		rts = []v1alpha1.ResponseType{"code"}
	}
	for _, rt := range rts {
		cl.responseTypes = append(cl.responseTypes, oidc.ResponseType(rt))
	}
	return cl, nil
}

// discoveryMetadata adds what the library's type lacks.
type discoveryMetadata struct {
	*oidc.DiscoveryConfiguration
	// RFC 9207: authorization responses carry iss.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// discoveryDocument is the OpenID Provider metadata of this generation.
func (c *config) discoveryDocument() discoveryMetadata {
	algs := []string{string(c.tenant.SigningAlgorithm)}
	rts := []string{"code"}
	scopes := []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, scopeGroups, oidc.ScopeOfflineAccess}
	for _, cl := range c.clients {
		for _, rt := range cl.responseTypes {
			if !slices.Contains(rts, string(rt)) {
				rts = append(rts, string(rt))
			}
		}
	}
	for _, a := range c.apis {
		for s := range a.scopes {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	slices.Sort(scopes[5:])
	return discoveryMetadata{AuthorizationResponseIssParameterSupported: true, DiscoveryConfiguration: &oidc.DiscoveryConfiguration{
		Issuer:                                    c.issuer,
		AuthorizationEndpoint:                     c.issuer + pathAuthorize,
		TokenEndpoint:                             c.issuer + PathToken,
		IntrospectionEndpoint:                     c.issuer + pathIntrospect,
		UserinfoEndpoint:                          c.issuer + pathUserinfo,
		RevocationEndpoint:                        c.issuer + pathRevoke,
		EndSessionEndpoint:                        c.issuer + pathEndSession,
		JwksURI:                                   c.issuer + pathKeys,
		ScopesSupported:                           scopes,
		ResponseTypesSupported:                    rts,
		ResponseModesSupported:                    []string{"query", "fragment"},
		GrantTypesSupported:                       []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials},
		SubjectTypesSupported:                     []string{"public"},
		IDTokenSigningAlgValuesSupported:          algs,
		TokenEndpointAuthMethodsSupported:         []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone},
		IntrospectionEndpointAuthMethodsSupported: []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost},
		RevocationEndpointAuthMethodsSupported:    []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "azp", "at_hash", "c_hash",
			"preferred_username", "name", "email", "email_verified", "groups", "federated_claims"},
		CodeChallengeMethodsSupported: []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256},
		RequestParameterSupported:     false,
	}}
}
