package issuer

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/sync/singleflight"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// connection is an upstream OpenID Connect provider of the tenant
// (spec.connections), compiled.
type connection struct {
	name, displayName string
	issuer, clientID  string
	clientSecret      string
	scopes            []string
	claims            v1alpha1.ClaimMapping // defaulted; groupsPrefix below
	// groupsPrefix is put before every upstream group (defaulted to
	// "<name>:").
	groupsPrefix    string
	requireVerified bool
	// allowedDomains (lower case) and allowedGroups admit users (see
	// connection_admission.go).
	allowedDomains, allowedGroups []string
	// maxAge bounds a login through the connection (0: no bound of its own).
	maxAge time.Duration
	// fingerprint is what sessions started through it record: removing
	// the connection, or pointing it at another issuer or client, ends
	// them.
	fingerprint string
}

// defaultUpstreamScopes are requested when a connection names none.
var defaultUpstreamScopes = []string{"openid", "email", "profile"}

func compileConnections(c *config, doc *issuerconfig.Document) error {
	c.connections = map[string]*connection{}
	for _, spec := range doc.Tenant.Spec.Connections {
		if _, dup := c.connections[spec.Name]; dup {
			return fmt.Errorf("tenant.spec.connections: duplicate name %q", spec.Name)
		}
		o := spec.OIDC
		conn := &connection{
			name: spec.Name, displayName: spec.DisplayName,
			issuer: o.IssuerURL, clientID: o.ClientID, clientSecret: doc.ConnectionSecrets[spec.Name],
			scopes: o.Scopes, requireVerified: o.RequireVerifiedEmail,
		}
		for _, d := range o.AllowedDomains {
			conn.allowedDomains = append(conn.allowedDomains, strings.ToLower(d))
		}
		conn.allowedGroups = o.AllowedGroups
		conn.groupsPrefix = spec.GroupsPrefixOf()
		if o.MaxAge != nil {
			conn.maxAge = o.MaxAge.Duration
		}
		if conn.displayName == "" {
			conn.displayName = spec.Name
		}
		if len(conn.scopes) == 0 {
			conn.scopes = defaultUpstreamScopes
		}
		if o.Claims != nil {
			conn.claims = *o.Claims
		}
		defaultString(&conn.claims.Subject, "sub")
		defaultString(&conn.claims.Username, "preferred_username")
		defaultString(&conn.claims.Email, "email")
		defaultString(&conn.claims.Name, "name")
		defaultString(&conn.claims.Groups, "groups")
		conn.fingerprint = connectionFingerprint(c.stateKey, conn, doc.ConnectionEpochs[spec.Name])
		c.connections[spec.Name] = conn
		c.connectionOrder = append(c.connectionOrder, conn)
	}
	return nil
}

func defaultString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

// upstreamTimeout bounds every request to an upstream (discovery, JWKS,
// token exchange): a slow upstream fails the login, never hangs it.
const upstreamTimeout = 10 * time.Second

// Discovery results are kept this long; a failure is retried after
// upstreamRetry, so a broken upstream is not asked on every click.
const (
	upstreamFresh = time.Hour
	upstreamRetry = 10 * time.Second
)

// upstreams caches each upstream's discovery document and key set across
// configuration generations (keyed by issuer URL). go-oidc refetches the
// keys when a token names a key it does not know.
type upstreams struct {
	client *http.Client
	now    func() time.Time

	mu        sync.Mutex
	providers map[string]upstreamProvider
	// discovering coalesces concurrent discoveries of one issuer: a burst
	// of logins after the cache expired makes one request upstream.
	discovering singleflight.Group
}

type upstreamProvider struct {
	provider *oidc.Provider
	err      error
	at       time.Time
}

func newUpstreams(now func() time.Time) *upstreams {
	return &upstreams{
		client: &http.Client{Timeout: upstreamTimeout, Transport: boundedBodies{next: http.DefaultTransport},
			// Discovery, keys and the token endpoint answer at the
			// URLs the upstream published; a redirect is an error.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now:       now,
		providers: map[string]upstreamProvider{},
	}
}

// context carries the upstream HTTP client to go-oidc and x/oauth2.
func (u *upstreams) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, u.client)
}

// provider returns the upstream's discovered configuration. Discovery
// checks that the document names exactly issuer.
func (u *upstreams) provider(issuer string) (*oidc.Provider, error) {
	u.mu.Lock()
	p, ok := u.providers[issuer]
	u.mu.Unlock()
	now := u.now()
	if ok && ((p.err == nil && now.Sub(p.at) < upstreamFresh) || (p.err != nil && now.Sub(p.at) < upstreamRetry)) {
		return p.provider, p.err
	}
	v, _, _ := u.discovering.Do(issuer, func() (any, error) {
		// The provider's key set outlives this call: it gets a context
		// that is never cancelled, with the bounded client.
		prov, err := oidc.NewProvider(u.context(context.Background()), issuer)
		if err != nil {
			err = fmt.Errorf("discovery of %s: %s", issuer, strings.TrimPrefix(err.Error(), "oidc: "))
		} else {
			var meta struct {
				JWKSURL string `json:"jwks_uri"`
			}
			_ = prov.Claims(&meta)
			if err = endpointsSafe(issuer, prov.Endpoint().AuthURL, prov.Endpoint().TokenURL, meta.JWKSURL); err != nil {
				prov = nil
			}
		}
		p := upstreamProvider{provider: prov, err: err, at: now}
		u.mu.Lock()
		u.providers[issuer] = p
		u.mu.Unlock()
		return p, nil
	})
	p = v.(upstreamProvider)
	return p.provider, p.err
}

// endpointsSafe refuses an https upstream whose discovery sends the
// issuer's client secret, codes or key fetches over plain http (security
// review N9): the document, not the Tenant, names those URLs. A loopback
// http issuer (development) may use http endpoints.
func endpointsSafe(issuer string, endpoints ...string) error {
	if !strings.HasPrefix(issuer, "https://") {
		return nil
	}
	for _, e := range endpoints {
		if !strings.HasPrefix(e, "https://") {
			return fmt.Errorf("discovery of %s names an endpoint that is not https (%s); refused", issuer, sanitize(e))
		}
	}
	return nil
}
