package issuer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// The upstream leg of a login through a connection: /login/upstream sends
// the browser to the upstream's authorization endpoint with PKCE (S256), a
// state and a nonce; /login/callback takes the code back, redeems it, and
// verifies the ID token (signature by a key of the upstream's JWKS, issuer,
// audience, expiry, nonce). Nothing is stored for a login in progress: the
// pending request, the PKCE verifier and the nonce travel sealed in a
// cookie bound to the state, so only the browser that started the login
// can finish it (no login CSRF), and a flood of starts stores nothing.
const (
	pathLoginUpstream = "/login/upstream"
	pathLoginCallback = issuerconfig.ConnectionCallbackPath
)

// maxPendingCookie bounds the sealed pending login: browsers store 4096
// bytes per cookie, and every pending login's cookie rides along on each
// request to the issuer's host for up to 10 minutes, where proxies limit
// the Cookie header (nginx: 8 KiB).
const maxPendingCookie = 2048

// maxSealedIdentity bounds what an upstream user's attributes take in a
// session record.
const maxSealedIdentity = 12 << 10

// freshLoginSkew tolerates clock differences when checking that a forced
// login (prompt=login, max_age) really happened at the upstream.
const freshLoginSkew = 30 * time.Second

// Results of upstream logins (metric label, log field).
const (
	upstreamSuccess        = "success"
	upstreamDenied         = "denied"
	upstreamUnreachable    = "unreachable"
	upstreamExchangeFailed = "exchange_failed"
	upstreamBadToken       = "bad_token"
	upstreamNotVerified    = "email_not_verified"
	upstreamNotAdmitted    = "not_admitted"
	upstreamExpired        = "expired"
	upstreamBadResponse    = "bad_response"
	upstreamThrottled      = "throttled"
)

// pendingUpstream is a login waiting for the upstream's answer.
type pendingUpstream struct {
	Flow       authFlow `json:"f"`
	Connection string   `json:"c"`
	State      string   `json:"s"`
	Verifier   string   `json:"v"`
	Nonce      string   `json:"n"`
	Started    int64    `json:"t"`
}

// pendingCookieName is per login in progress, so two tabs signing in to
// two applications at once do not overwrite each other's.
func (c *config) pendingCookieName(state string) string {
	sum := sha256.Sum256([]byte(state))
	return c.pendingCookiePrefix() + hex.EncodeToString(sum[:6])
}

// pendingCookiePrefix starts the name of every pending-login cookie.
func (c *config) pendingCookiePrefix() string {
	if c.secure {
		return "__Host-idtenant_upstream_"
	}
	return "idtenant_upstream_"
}

func (c *config) pendingCookie(name, value string, maxAge int) *http.Cookie {
	// SameSite=Lax: the callback is a top-level navigation from the
	// upstream's site, which Lax cookies accompany.
	return &http.Cookie{Name: name, Value: value, Path: c.cookies.csrfPath, MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode}
}

func (c *config) oauth2Config(conn *connection, p *gooidc.Provider) *oauth2.Config {
	return &oauth2.Config{
		ClientID: conn.clientID, ClientSecret: conn.clientSecret,
		Endpoint: p.Endpoint(), RedirectURL: c.issuer + pathLoginCallback, Scopes: conn.scopes,
	}
}

// upstreamStart sends the browser to a connection's upstream for a sealed
// authorization request.
func (s *Server) upstreamStart(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Load()
	now := s.now()
	flow, err := c.unseal(r.URL.Query().Get("r"), now)
	if err != nil {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: errLinkExpired})
		return
	}
	conn, ok := c.connections[r.URL.Query().Get("c")]
	if !ok {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: "This sign-in option no longer exists. Go back to the application and sign in again."})
		return
	}
	prov, err := s.upstreams.provider(conn.issuer)
	if err != nil {
		s.upstreamFailed(w, conn, upstreamUnreachable, err, http.StatusBadGateway,
			fmt.Sprintf("%s cannot be reached right now. Try again in a few minutes.", conn.displayName))
		return
	}
	p := pendingUpstream{Flow: *flow, Connection: conn.name, State: randomToken(),
		Verifier: oauth2.GenerateVerifier(), Nonce: randomToken(), Started: now.Unix()}
	value, err := c.sealJSON(purposeUpstream, &p, now.Add(pendingLifetime).Unix())
	if err != nil || len(value) > maxPendingCookie {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: "The application's sign-in request is too large to continue through another provider."})
		return
	}
	c.expireOldPendingLogins(w, r, now)
	http.SetCookie(w, c.pendingCookie(c.pendingCookieName(p.State), value, int(pendingLifetime/time.Second)))
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.Verifier), gooidc.Nonce(p.Nonce)}
	// A forced login must be a real one upstream as well: pass prompt=login
	// and max_age on, and check auth_time when the answer comes back.
	if slices.Contains(flow.Prompt, "login") {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	if flow.MaxAge != nil {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatUint(uint64(*flow.MaxAge), 10)))
	}
	if hd := conn.hostedDomainHint(); hd != "" {
		opts = append(opts, oauth2.SetAuthURLParam("hd", hd))
	}
	http.Redirect(w, r, c.oauth2Config(conn, prov).AuthCodeURL(p.State, opts...), http.StatusSeeOther)
}

// upstreamCallback completes a login at an upstream: it verifies the
// answer, derives the user, starts the session and completes the original
// authorization request. Every failure ends on the error page; none
// starts a session.
func (s *Server) upstreamCallback(w http.ResponseWriter, r *http.Request) {
	c := s.cfg.Load()
	now := s.now()
	q := r.URL.Query()
	state := q.Get("state")
	var p pendingUpstream
	cookie, err := r.Cookie(c.pendingCookieName(state))
	if state == "" || err != nil || c.unsealJSONAt(purposeUpstream, cookie.Value, &p, now) != nil ||
		subtle.ConstantTimeCompare([]byte(p.State), []byte(state)) != 1 {
		s.metrics.upstreamLogins.WithLabelValues("", upstreamExpired).Inc()
		s.renderLogin(w, loginView{Status: http.StatusBadRequest,
			Error: "This sign-in took too long or was started in another browser. Go back to the application and sign in again."})
		return
	}
	http.SetCookie(w, c.pendingCookie(cookie.Name, "", -1))
	conn, ok := c.connections[p.Connection]
	if !ok {
		s.renderLogin(w, loginView{Status: http.StatusBadRequest, Error: "This sign-in option no longer exists. Go back to the application and sign in again."})
		return
	}
	// The browser forgets the pending login now, but whoever copied the
	// cookie could replay the callback: each one costs a request to the
	// upstream with our client secret. Bound them per pending login, and
	// nowhere else: a failure counted per connection or address would let
	// anyone behind a shared address (an office NAT, a proxy) block
	// everyone else's sign-in with bogus callbacks.
	if !s.limiter.AdmitRequest("upstream\x00"+state, now) {
		s.upstreamFailed(w, conn, upstreamThrottled, errors.New("too many callbacks for one login"), http.StatusTooManyRequests,
			"Too many sign-in attempts. Go back to the application and sign in again.")
		return
	}
	prov, err := s.upstreams.provider(conn.issuer)
	if err != nil {
		s.upstreamFailed(w, conn, upstreamUnreachable, err, http.StatusBadGateway,
			fmt.Sprintf("%s cannot be reached right now. Try again in a few minutes.", conn.displayName))
		return
	}
	// RFC 9207: an upstream that names itself must be the one we sent the
	// user to (a mix-up attack swaps them); one that says it always does
	// must do so.
	var meta struct {
		IssParameter bool `json:"authorization_response_iss_parameter_supported"`
	}
	_ = prov.Claims(&meta)
	if iss := q.Get("iss"); (iss != "" || meta.IssParameter) && iss != conn.issuer {
		s.upstreamFailed(w, conn, upstreamBadResponse, fmt.Errorf("the response names issuer %q", sanitize(iss)), http.StatusBadRequest,
			fmt.Sprintf("The answer from %s could not be trusted. Go back to the application and sign in again.", conn.displayName))
		return
	}
	if e := q.Get("error"); e != "" {
		desc := sanitize(q.Get("error_description"))
		s.upstreamFailed(w, conn, upstreamDenied, fmt.Errorf("%s: %s", sanitize(e), desc), http.StatusForbidden,
			fmt.Sprintf("%s did not sign you in (%s). Go back to the application and try again, or ask your administrator.", conn.displayName, sanitize(e)))
		return
	}
	code := q.Get("code")
	if code == "" {
		s.upstreamFailed(w, conn, upstreamBadResponse, errors.New("no code in the response"), http.StatusBadRequest,
			fmt.Sprintf("The answer from %s was incomplete. Go back to the application and sign in again.", conn.displayName))
		return
	}
	// Bogus callbacks, each of its own pending login, would otherwise make
	// the issuer call the upstream's token endpoint with the Tenant's
	// client secret as fast as they come. Each address has its share first,
	// so that one address cannot drain the connection's rate for everyone.
	addr := c.trustedProxies.clientAddress(r)
	if !s.exchangeAddrBudget.Allow(conn.name+"\x00"+addr, now) || !s.exchangeLimit(conn.name).Allow() {
		w.Header().Set("Retry-After", retryAfterSeconds)
		s.upstreamFailed(w, conn, upstreamThrottled, errors.New("too many token requests to the upstream"), http.StatusServiceUnavailable,
			fmt.Sprintf("Too many people are signing in with %s right now. Try again in a few seconds.", conn.displayName))
		return
	}
	ctx := s.upstreams.context(r.Context())
	tok, err := c.oauth2Config(conn, prov).Exchange(ctx, code, oauth2.VerifierOption(p.Verifier))
	if err != nil {
		s.upstreamFailed(w, conn, upstreamExchangeFailed, exchangeError(err), http.StatusBadGateway,
			fmt.Sprintf("%s did not complete the sign-in. Go back to the application and try again.", conn.displayName))
		return
	}
	person, err := s.verifyUpstream(ctx, conn, prov, tok, &p)
	if err != nil {
		result, status, msg := upstreamBadToken, http.StatusBadGateway,
			fmt.Sprintf("The answer from %s could not be verified. Go back to the application and sign in again.", conn.displayName)
		if errors.Is(err, errNotVerified) {
			result, status, msg = upstreamNotVerified, http.StatusForbidden,
				fmt.Sprintf("Your email address is not verified at %s. Verify it there, then sign in again.", conn.displayName)
		}
		if errors.Is(err, errNotAdmitted) {
			result, status, msg = upstreamNotAdmitted, http.StatusForbidden,
				fmt.Sprintf("Your %s account may not sign in here. Sign in with an account of your organization, or ask your administrator.", conn.displayName)
		}
		s.upstreamFailed(w, conn, result, err, status, msg)
		return
	}
	person.Generation = c.generation
	sealed, err := c.sealIdentity(person)
	if err == nil && len(sealed) > maxSealedIdentity {
		err = fmt.Errorf("the user's attributes take %d bytes sealed, more than %d", len(sealed), maxSealedIdentity)
	}
	if err != nil {
		s.upstreamFailed(w, conn, upstreamBadToken, err, http.StatusBadGateway,
			fmt.Sprintf("The answer from %s could not be used. Ask your administrator.", conn.displayName))
		return
	}
	s.metrics.upstreamLogins.WithLabelValues(conn.name, upstreamSuccess).Inc()
	s.finishLogin(w, r, c, &p.Flow, loginView{}, loginIdentity{
		subject: upstreamSubject(conn.name, person.UpstreamSubject), fingerprint: conn.fingerprint, sealed: sealed,
	}, now)
}

var errNotVerified = errors.New("the upstream does not say the email is verified")

// verifyUpstream checks the upstream's ID token and maps its claims.
func (s *Server) verifyUpstream(ctx context.Context, conn *connection, prov *gooidc.Provider, tok *oauth2.Token, p *pendingUpstream) (*person, error) {
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("the token response has no id_token")
	}
	// The provider's own key set: cached, refetched when a token names a
	// key it does not know.
	idt, err := prov.Verifier(&gooidc.Config{ClientID: conn.clientID, Now: s.clock.Now}).Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("id_token: %w", err)
	}
	var azp struct {
		AZP string `json:"azp"`
	}
	// OpenID Connect Core 3.1.3.7: with several audiences, the token must
	// have been issued to us.
	if _ = idt.Claims(&azp); len(idt.Audience) > 1 && azp.AZP != conn.clientID {
		return nil, fmt.Errorf("id_token: azp %q is not our client", sanitize(azp.AZP))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(p.Nonce)) != 1 {
		return nil, errors.New("id_token: nonce does not match the one sent")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, fmt.Errorf("id_token claims: %w", err)
	}
	if p.Flow.MaxAge != nil || slices.Contains(p.Flow.Prompt, "login") {
		maxAge := time.Duration(0)
		if p.Flow.MaxAge != nil {
			maxAge = time.Duration(*p.Flow.MaxAge) * time.Second
		}
		authTime, ok := claims["auth_time"].(float64)
		if !ok || time.Unix(int64(authTime), 0).Before(time.Unix(p.Started, 0).Add(-maxAge-freshLoginSkew)) {
			return nil, errors.New("id_token: a fresh login was required and auth_time does not show one")
		}
	}
	who, err := mapUpstreamClaims(conn, claims)
	if err == nil && !conn.admits(who) {
		return nil, errNotAdmitted
	}
	return who, err
}

// Limits on what an upstream may put into our tokens.
const (
	maxUpstreamGroups   = 64
	maxUpstreamGroupLen = 128
	maxUpstreamClaimLen = 256
)

// mapUpstreamClaims reads a user's attributes with the connection's claim
// mapping.
func mapUpstreamClaims(conn *connection, claims map[string]any) (*person, error) {
	str := func(name string) string {
		v, _ := claims[name].(string)
		return strings.ToValidUTF8(v, "")
	}
	// Display values may be shortened; identifiers may not: two long
	// subjects cut alike would be one user, and a cut email another
	// address.
	short := func(v string) string {
		if len(v) > maxUpstreamClaimLen {
			v = strings.ToValidUTF8(v[:maxUpstreamClaimLen], "")
		}
		return v
	}
	p := &person{Connection: conn.name, UpstreamSubject: str(conn.claims.Subject),
		Username: short(str(conn.claims.Username)), Name: short(str(conn.claims.Name)), Email: str(conn.claims.Email)}
	switch {
	case p.UpstreamSubject == "":
		return nil, fmt.Errorf("id_token: no string claim %q to identify the user", conn.claims.Subject)
	case len(p.UpstreamSubject) > maxUpstreamClaimLen:
		return nil, fmt.Errorf("id_token: claim %q is longer than %d bytes", conn.claims.Subject, maxUpstreamClaimLen)
	case len(p.Email) > maxUpstreamClaimLen:
		p.Email = "" // not an address anyone can use; never cut into another
	}
	if hd, ok := claims["hd"].(string); ok && len(hd) <= maxUpstreamClaimLen {
		p.HostedDomain = hd
	}
	switch v := claims["email_verified"].(type) {
	case bool:
		p.EmailVerified = v
	case string: // some providers send it as a string
		p.EmailVerified = v == "true"
	}
	if p.Username == "" && p.EmailVerified {
		// Never an unverified address: a relying party keyed on
		// preferred_username would take it for the owner's (N6).
		p.Username = p.Email
	}
	if conn.requireVerified && (p.Email == "" || !p.EmailVerified) {
		return nil, errNotVerified
	}
	var groups []string
	switch v := claims[conn.claims.Groups].(type) {
	case string:
		groups = []string{v}
	case []any:
		for _, g := range v {
			if s, ok := g.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	for _, g := range groups {
		if g == "" || len(g) > maxUpstreamGroupLen || len(p.Groups) == maxUpstreamGroups {
			continue
		}
		p.Groups = append(p.Groups, conn.groupsPrefix+g)
	}
	return p, nil
}

// upstreamFailed ends a login through a connection on the error page,
// with a log line and a metric for the operator. The log carries the
// reason, never a token or secret.
func (s *Server) upstreamFailed(w http.ResponseWriter, conn *connection, result string, err error, status int, msg string) {
	s.metrics.upstreamLogins.WithLabelValues(conn.name, result).Inc()
	s.log.Warn("upstream login failed", "connection", conn.name, "result", result, "error", loggedUpstreamError(err))
	s.renderLogin(w, loginView{Status: status, Error: msg})
}

// exchangeError keeps what an upstream's token endpoint said (the OAuth
// error code and description), not its whole body.
func exchangeError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode != "" {
			return fmt.Errorf("token endpoint: %s: %s", sanitize(re.ErrorCode), sanitize(re.ErrorDescription))
		}
		if re.Response != nil {
			return fmt.Errorf("token endpoint answered HTTP %d", re.Response.StatusCode)
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("token endpoint: %w", ue.Err)
	}
	return err
}

// Token requests the issuer makes at one connection's upstream, per
// replica: far above an organisation's sign-in rate, far below what would
// make an upstream throttle or lock the Tenant's client. One address gets
// at most upstreamExchangesPerAddressPerMinute of them (an office behind one
// NAT signs in far less often), so it takes many addresses holding the
// connection's rate to delay anyone (security review N4).
const (
	upstreamExchangesPerSecond           = 200
	upstreamExchangeBurst                = 400
	upstreamExchangesPerAddressPerMinute = 300
)

// exchangeLimit is connection's token-request limiter.
func (s *Server) exchangeLimit(connection string) *rate.Limiter {
	if l, ok := s.exchangeLimits.Load(connection); ok {
		return l.(*rate.Limiter)
	}
	l, _ := s.exchangeLimits.LoadOrStore(connection, rate.NewLimiter(s.exchangeRate, s.exchangeBurst))
	return l.(*rate.Limiter)
}
