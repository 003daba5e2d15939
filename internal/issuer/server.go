package issuer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/time/rate"

	limiter "github.com/idtenant/idtenant/internal/issuer/limiter"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Clock tells the time. Every deadline the issuer checks and every iat/exp it
// writes comes from one Clock, so tests drive hours of session life with a
// fake one and no sleeping.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Endpoint paths, relative to the issuer URL.
const (
	pathAuthorize  = "/authorize"
	PathToken      = "/oauth/token"
	pathIntrospect = "/oauth/introspect"
	pathRevoke     = "/oauth/revoke"
	pathUserinfo   = "/userinfo"
	pathEndSession = "/logout"
	pathKeys       = "/keys"
	pathLogin      = "/login"
	pathLoggedOut  = "/logged-out"
	PathHealth     = "/healthz"
	PathReady      = "/ready"
)

// Options are the issuer's collaborators; zero values get production
// defaults.
type Options struct {
	Clock    Clock
	Store    store.Store
	Logger   *slog.Logger
	Registry *prometheus.Registry
}

// Server is the issuer. It is safe for concurrent use; Swap replaces its
// configuration without interrupting requests.
type Server struct {
	op.UnimplementedServer

	cfg     atomic.Pointer[config]
	clock   Clock
	store   store.Store // backend, timed (store_metrics.go)
	backend store.Store // the same, untimed: what it can do beyond Store
	log     *slog.Logger
	metrics *metrics
	limiter *limiter.LoginLimiter
	// codeBudget bounds the codes one session gets per minute, and
	// revokeBudget the access tokens one client revokes per minute, so
	// that neither can fill the state quota the whole Tenant shares.
	codeBudget, revokeBudget *limiter.Budget
	// exchangeLimits bound the token requests made at each connection's
	// upstream (connection name -> *rate.Limiter), at exchangeRate with
	// exchangeBurst.
	exchangeLimits sync.Map
	exchangeRate   rate.Limit
	exchangeBurst  int
	// exchangeAddrBudget is each client address's share of them.
	exchangeAddrBudget *limiter.Budget
	// upstreams caches the connections' upstream providers.
	upstreams *upstreams
	handler   http.Handler
	// fallbackStateKey serves configurations without a state key.
	fallbackStateKey []byte
	// draining: the process is shutting down; readiness fails so that no
	// new traffic is sent here, while requests still arriving are served.
	draining atomic.Bool
}

// Drain makes readiness fail from now on (the process is shutting down)
// while every endpoint keeps answering: endpoints and load balancers stop
// sending new connections here before the listener closes.
func (s *Server) Drain() { s.draining.Store(true) }

// New compiles doc and returns a server for it.
func New(doc *issuerconfig.Document, opts Options) (*Server, error) {
	s := &Server{clock: opts.Clock, store: opts.Store, log: opts.Logger, fallbackStateKey: newStateKey()}
	if s.clock == nil {
		s.clock = realClock{}
	}
	if s.store == nil {
		s.store = memory.New()
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	s.backend, s.store = s.store, timedStore(s.store, s.metrics.storeLatency, s.metrics.quotaRefusals)
	s.limiter = limiter.NewLoginLimiter()
	s.codeBudget = limiter.NewBudget(codesPerSessionPerMinute, time.Minute)
	s.revokeBudget = limiter.NewBudget(revocationsPerClientPerMinute, time.Minute)
	s.exchangeRate, s.exchangeBurst = upstreamExchangesPerSecond, upstreamExchangeBurst
	s.exchangeAddrBudget = limiter.NewBudget(upstreamExchangesPerAddressPerMinute, time.Minute)
	s.upstreams = newUpstreams(s.clock.Now)
	if err := s.Swap(doc); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Swap atomically replaces the configuration. The next request sees the new
// generation; sessions and tokens in the store are untouched, and session
// deadlines are recomputed from the new settings at their next check.
func (s *Server) Swap(doc *issuerconfig.Document) error {
	if doc == nil {
		return errors.New("nil issuer config")
	}
	c, err := compile(doc, s.fallbackStateKey)
	if err != nil {
		return fmt.Errorf("compiling issuer config generation %d: %w", doc.Generation, err)
	}
	// The state key names every record and opens every sealed request:
	// a generation that drops or changes it would make all state
	// unreachable (and replicas disagree), so it is refused.
	if old := s.cfg.Load(); old != nil && !bytes.Equal(old.stateKey, c.stateKey) {
		return fmt.Errorf("issuer config generation %d changes or drops the tenant's state key; refusing it (every session and refresh token would be lost)", doc.Generation)
	}
	s.cfg.Store(c)
	s.metrics.generation.Set(float64(c.generation))
	s.log.Info("issuer config loaded", "generation", c.generation, "applications", len(c.clients), "apis", len(c.apis), "users", len(c.users))
	return nil
}

// Generation is the configuration generation being served.
func (s *Server) Generation() int64 { return s.cfg.Load().generation }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) routes() http.Handler {
	endpoints := op.Endpoints{
		Authorization: op.NewEndpoint(strings.TrimPrefix(pathAuthorize, "/")),
		Token:         op.NewEndpoint(strings.TrimPrefix(PathToken, "/")),
		Introspection: op.NewEndpoint(strings.TrimPrefix(pathIntrospect, "/")),
		Userinfo:      op.NewEndpoint(strings.TrimPrefix(pathUserinfo, "/")),
		Revocation:    op.NewEndpoint(strings.TrimPrefix(pathRevoke, "/")),
		EndSession:    op.NewEndpoint(strings.TrimPrefix(pathEndSession, "/")),
		JwksURI:       op.NewEndpoint(strings.TrimPrefix(pathKeys, "/")),
	}
	// CORS follows the live configuration: an origin is allowed while some
	// application lists it in allowedOrigins. No credentials: browser code
	// calls the token, userinfo and revocation endpoints with tokens, not
	// cookies.
	corsOpts := &cors.Options{
		AllowOriginFunc: func(origin string) bool { return s.cfg.Load().origins[origin] },
		AllowedMethods:  []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:  []string{"Authorization", "Content-Type", "Accept"},
		MaxAge:          600,
	}
	oph := op.RegisterServer(s, endpoints, op.WithServerCORSOptions(corsOpts))
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathLogin, s.loginPage)
	mux.Handle("POST "+pathLogin, s.withIss(http.HandlerFunc(s.loginSubmit)))
	mux.HandleFunc("GET "+pathConsent, s.consentPage)
	mux.Handle("POST "+pathConsent, s.withIss(http.HandlerFunc(s.consentSubmit)))
	mux.HandleFunc("GET "+pathLoginUpstream, s.upstreamStart)
	mux.Handle("GET "+pathLoginCallback, s.withIss(http.HandlerFunc(s.upstreamCallback)))
	mux.Handle("GET "+pathAuthorize, s.withIss(oph))
	mux.Handle("POST "+pathAuthorize, s.withIss(oph))
	mux.HandleFunc("GET "+pathEndSession, s.logoutPage(oph))
	mux.HandleFunc("POST "+pathEndSession, s.logoutSubmit(oph))
	mux.HandleFunc("GET "+pathLoggedOut, s.loggedOut)
	mux.HandleFunc("POST "+PathToken, s.tokenEndpoint(oph))
	mux.Handle("/", oph)
	return s.middleware(mux)
}

// VerifyClient authenticates the client of a token, revocation or
// introspection request. Confidential clients prove their secret (basic or
// post); public clients send only their id, and never a secret.
func (s *Server) VerifyClient(_ context.Context, r *op.Request[op.ClientCredentials]) (op.Client, error) {
	c := s.cfg.Load()
	cl, ok := c.clients[r.Data.ClientID]
	if !ok {
		return nil, op.NewStatusError(oidc.ErrInvalidClient().WithDescription("unknown client or wrong credentials"), http.StatusUnauthorized)
	}
	if r.Data.ClientAssertion != "" {
		return nil, op.NewStatusError(oidc.ErrInvalidClient().WithDescription("client assertions are not supported"), http.StatusUnauthorized)
	}
	if cl.public {
		if r.Data.ClientSecret != "" {
			return nil, op.NewStatusError(oidc.ErrInvalidClient().WithDescription("a public client has no secret"), http.StatusUnauthorized)
		}
		return cl, nil
	}
	if !cl.secretMatches(r.Data.ClientSecret, s.now()) {
		return nil, op.NewStatusError(oidc.ErrInvalidClient().WithDescription("unknown client or wrong credentials"), http.StatusUnauthorized)
	}
	return cl, nil
}

func (s *Server) Health(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(map[string]string{"status": "ok"}), nil
}

// Ready reports ready once a configuration is loaded, with its generation,
// and not ready once the process drains (Drain).
func (s *Server) Ready(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	if s.draining.Load() {
		return nil, op.NewStatusError(oidc.ErrServerError().WithDescription("shutting down"), http.StatusServiceUnavailable)
	}
	c := s.cfg.Load()
	if c == nil {
		return nil, op.NewStatusError(oidc.ErrServerError().WithDescription("no configuration"), http.StatusServiceUnavailable)
	}
	return op.NewResponse(map[string]any{"status": "ok", "generation": c.generation}), nil
}

func (s *Server) Discovery(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	return op.NewResponse(rawJSON(s.cfg.Load().discovery)), nil
}

func (s *Server) Keys(context.Context, *op.Request[struct{}]) (*op.Response, error) {
	resp := op.NewResponse(rawJSON(s.cfg.Load().keys.JWKS))
	resp.Header.Set("Cache-Control", "max-age=300")
	return resp, nil
}

// rawJSON is a document rendered once per configuration generation.
type rawJSON []byte

func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }

// tokenResponse wraps a token endpoint answer with the headers RFC 6749
// section 5.1 requires.
func tokenResponse(data *oidc.AccessTokenResponse) *op.Response {
	resp := op.NewResponse(data)
	resp.Header.Set("Cache-Control", "no-store")
	resp.Header.Set("Pragma", "no-cache")
	return resp
}
