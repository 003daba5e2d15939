package issuer

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// codeFor runs the browser part of a code flow and returns the code and its
// PKCE verifier, without redeeming it.
func (e *env) codeFor(b *browser, clientID, redirect string, scopes ...string) (code, verifier string) {
	e.t.Helper()
	cfg := e.oauth2Config(clientID, redirect, scopes...)
	verifier = oauth2.GenerateVerifier()
	resp, body := b.authorize(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("audience", "https://orders.acme.test")), "alice", "correct horse")
	cb := callback(e.t, resp, body)
	if cb.Get("code") == "" {
		e.t.Fatalf("no code: %v", cb)
	}
	return cb.Get("code"), verifier
}

func redeemForm(code, verifier, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
}

const webCB = "https://web.acme.test/cb"

// TestReplicasShareState: what one replica writes, the other honours —
// codes, refresh rotation, reuse detection, revocation.
func TestReplicasShareState(t *testing.T) {
	a := newEnv(t, nil)
	b := a.replica()
	web, secret := "web.shop", issuertest.Secrets["web.shop"]

	code, verifier := a.codeFor(a.browser(), web, webCB, "openid", "read:orders")
	status, tok := b.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
	if status != http.StatusOK {
		t.Fatalf("code issued at A, redeemed at B: %d %v", status, tok)
	}
	if status, body := a.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the same code again at A: %d %v, want invalid_grant", status, body)
	}
	rt1 := tok["refresh_token"].(string)
	// The replay revoked the first redemption's tokens (same client).
	if status, body := a.refresh(web, rt1); status != http.StatusBadRequest {
		t.Fatalf("refresh after the code was replayed by its own client: %d %v, want invalid_grant", status, body)
	}

	code, verifier = a.codeFor(a.browser(), web, webCB, "openid", "read:orders")
	_, tok = b.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
	rt1 = tok["refresh_token"].(string)
	status, body := a.postForm(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}, web, secret)
	if status != http.StatusOK {
		t.Fatalf("refresh at A of a token issued at B: %d %v", status, body)
	}
	rt2 := body["refresh_token"].(string)
	a.clock.Advance(11 * time.Second) // past web.shop's reuseInterval
	if status, body := b.postForm(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt1}}, web, secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replay of the rotated token at B: %d %v, want invalid_grant", status, body)
	}
	if status, body := a.postForm(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}, web, secret); status != http.StatusBadRequest {
		t.Fatalf("the family's newest token after the replay: %d %v, want invalid_grant (family revoked)", status, body)
	}

	// Revoke at A, introspect at B.
	code, verifier = a.codeFor(a.browser(), web, webCB, "openid", "read:orders")
	_, tok = a.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
	at := tok["access_token"].(string)
	if _, got := b.postForm(pathIntrospect, url.Values{"token": {at}}, web, secret); got["active"] != true {
		t.Fatalf("introspection at B before revocation: %v", got)
	}
	if status, _ := a.postForm(pathRevoke, url.Values{"token": {at}}, web, secret); status != http.StatusOK {
		t.Fatalf("revoke at A: %d", status)
	}
	if _, got := b.postForm(pathIntrospect, url.Values{"token": {at}}, web, secret); got["active"] != false {
		t.Errorf("introspection at B after revocation at A: %v, want inactive", got)
	}
}

// TestConcurrentRefreshHasOneOutcome: replicas refreshing one token at
// once. Without a reuse interval exactly one succeeds; within one, every
// success carries the same successor (no parallel branch).
func TestConcurrentRefreshHasOneOutcome(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reuse string
	}{{"no reuse interval", "0s"}, {"within reuse interval", "10s"}} {
		t.Run(tc.name, func(t *testing.T) {
			a := newEnv(t, func(d *issuerconfig.Document) {
				for i := range d.Applications {
					if d.Applications[i].ClientID == "web.shop" {
						d.Applications[i].Spec.RefreshToken.ReuseInterval = dur(tc.reuse)
					}
				}
			})
			b := a.replica()
			web, secret := "web.shop", issuertest.Secrets["web.shop"]
			code, verifier := a.codeFor(a.browser(), web, webCB, "openid", "read:orders")
			_, tok := a.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
			rt := tok["refresh_token"].(string)
			var (
				wg         sync.WaitGroup
				mu         sync.Mutex
				successors = map[string]int{}
				failures   int
			)
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					replica := []*env{a, b}[i%2]
					status, body := replica.postForm(PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, web, secret)
					mu.Lock()
					defer mu.Unlock()
					if status == http.StatusOK {
						successors[body["refresh_token"].(string)]++
					} else {
						failures++
					}
				}()
			}
			wg.Wait()
			if len(successors) != 1 {
				t.Fatalf("successors: %d distinct (%v), want exactly one", len(successors), successors)
			}
			if tc.reuse == "0s" {
				for _, n := range successors {
					if n != 1 || failures != 7 {
						t.Errorf("successes %d, failures %d; want exactly one winner", n, failures)
					}
				}
			}
			if n := a.store.Len()[store.KindFamily]; n != 1 {
				t.Errorf("refresh family records: %d, want 1", n)
			}
		})
	}
}

// TestRefreshFamilyIsOneRecord: rotation does not pile up records, and a
// replay of any earlier token still revokes the family.
func TestRefreshFamilyIsOneRecord(t *testing.T) {
	e := newEnv(t, nil)
	tok, err := e.loginFlow(e.browser(), "web.shop", webCB)
	if err != nil {
		t.Fatal(err)
	}
	rt, tokens := tok.RefreshToken, []string{tok.RefreshToken}
	for range 1000 {
		status, body := e.refresh("web.shop", rt)
		if status != http.StatusOK {
			t.Fatalf("refresh: %d %v", status, body)
		}
		rt = body["refresh_token"].(string)
		tokens = append(tokens, rt)
		e.clock.Advance(10 * time.Second) // 1000 refreshes within the 8h session
	}
	if got := e.store.Len(); got[store.KindFamily] != 1 || total(got) != 3 {
		t.Fatalf("records after 1000 rotations: %v, want one family (plus the session and the code)", got)
	}
	if status, body := e.refresh("web.shop", tokens[500]); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("replay of the 500th token: %d %v", status, body)
	}
	if status, _ := e.refresh("web.shop", rt); status != http.StatusBadRequest {
		t.Fatalf("newest token after a replay: %d, want invalid_grant", status)
	}
}

// TestCodeConsumedOnlyByARightfulRedemption: a request without the PKCE
// verifier or from another client does not burn the code, nor revoke
// anything.
func TestCodeConsumedOnlyByARightfulRedemption(t *testing.T) {
	e := newEnv(t, nil)
	web, secret := "web.shop", issuertest.Secrets["web.shop"]
	code, verifier := e.codeFor(e.browser(), web, webCB, "openid", "read:orders")
	if status, body := e.postForm(PathToken, redeemForm(code, "wrong-verifier-wrong-verifier-wrong-verifier", webCB), web, secret); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", status, body)
	}
	if status, body := e.postForm(PathToken, redeemForm(code, verifier, "https://evil.test/cb"), web, secret); status != http.StatusBadRequest {
		t.Fatalf("wrong redirect_uri: %d %v", status, body)
	}
	status, tok := e.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
	if status != http.StatusOK {
		t.Fatalf("the rightful redemption after failed attempts: %d %v", status, tok)
	}
	// Another client presenting the redeemed code cannot revoke the grant.
	m2m := "m2m.shop"
	if status, _ := e.postForm(PathToken, redeemForm(code, verifier, webCB), m2m, issuertest.Secrets[m2m]); status == http.StatusOK {
		t.Fatal("another client redeemed the code")
	}
	if status, body := e.refresh(web, tok["refresh_token"].(string)); status != http.StatusOK {
		t.Fatalf("refresh after another client replayed the code: %d %v, want it still working", status, body)
	}
}

// TestOversizedParametersRefused: state, nonce and code_challenge beyond
// their limits (a nonce also with a control character) are
// invalid_request, sent back to the registered redirect.
func TestOversizedParametersRefused(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	for name, u := range map[string]string{
		"state":                  cfg.AuthCodeURL(strings.Repeat("s", maxState+1)),
		"nonce":                  cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("nonce", strings.Repeat("n", maxNonce+1))),
		"code_challenge":         cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", "short"), oauth2.SetAuthURLParam("code_challenge_method", "S256")),
		"code_challenge charset": cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("<", 50)), oauth2.SetAuthURLParam("code_challenge_method", "S256")),
		// NUL is no JSON store's (PostgreSQL's jsonb refuses it): before
		// this check it made code creation an outage, 503.
		"nonce NUL": cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("nonce", "n\x00n")),
	} {
		resp, body := e.browser().get(u)
		cb := callback(t, resp, body)
		if cb.Get("error") != "invalid_request" || !strings.Contains(cb.Get("error_description"), strings.Fields(name)[0]) {
			t.Errorf("%s: %v, want invalid_request naming it", name, cb)
		}
	}
	if got := total(e.store.Len()); got != 0 {
		t.Errorf("records after refused requests: %d", got)
	}
}

// TestAnonymousFloodStoresNothing: authorization requests of users who
// have not logged in are sealed into the login page, never stored.
func TestAnonymousFloodStoresNothing(t *testing.T) {
	e := newEnv(t, nil)
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	u := cfg.AuthCodeURL(strings.Repeat("<", maxState), oauth2.SetAuthURLParam("nonce", strings.Repeat("n", maxNonce)))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var login string
	for range 5000 {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		login = resp.Header.Get("Location")
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if got := total(e.store.Len()); got != 0 {
		t.Errorf("records after 5000 anonymous requests: %d, want 0", got)
	}
	// Memory held: what the old parked design kept was ~98 KB per request.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Errorf("heap grew by %d bytes over 5000 anonymous requests", grew)
	}
	// The last one still leads to a working login page with its state.
	b := e.browser()
	resp, body := b.get(login)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d", resp.StatusCode)
	}
	resp, body = b.login(body, "alice", "correct horse")
	if cb := callback(t, resp, body); cb.Get("state") != strings.Repeat("<", maxState) || cb.Get("code") == "" {
		t.Errorf("callback after the sealed login: %v", cb)
	}
	// A tampered or expired sealed request is refused.
	tampered := strings.Replace(login, "r=", "r=A", 1)
	if resp, _ := e.browser().get(tampered); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("tampered sealed request: %d, want 400", resp.StatusCode)
	}
	e.clock.Advance(pendingLifetime)
	if resp, _ := e.browser().get(login); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("sealed request past its lifetime: %d, want 400", resp.StatusCode)
	}
}

// TestChangedUserEndsSessionsAndFamilies: removing a user or changing the
// password ends their sessions and refresh families at the next use.
func TestChangedUserEndsSessionsAndFamilies(t *testing.T) {
	newHash, _ := bcrypt.GenerateFromPassword([]byte("new horse"), bcrypt.MinCost)
	for name, change := range map[string]func(*issuerconfig.Document){
		"removed":          func(d *issuerconfig.Document) { d.Users = nil },
		"password changed": func(d *issuerconfig.Document) { d.Users[0].PasswordHash = string(newHash) },
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, nil)
			b := e.browser()
			offline := e.offlineLogin(b)
			bound, err := e.loginFlow(b, "web.shop", webCB)
			if err != nil {
				t.Fatal(err)
			}
			doc := *e.doc
			doc.Users = append([]issuerconfig.User(nil), e.doc.Users...)
			doc.Generation++
			change(&doc)
			if err := e.srv.Swap(&doc); err != nil {
				t.Fatal(err)
			}
			if cb := e.silent(b); cb.Get("error") != "login_required" {
				t.Errorf("prompt=none: %v, want login_required", cb)
			}
			for kind, rt := range map[string]string{"offline": offline.RefreshToken, "session-bound": bound.RefreshToken} {
				if status, body := e.refresh("web.shop", rt); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
					t.Errorf("%s refresh: %d %v, want invalid_grant", kind, status, body)
				}
			}
		})
	}
}

// TestRefreshFollowsCurrentScopes: a scope removed from the application
// is no longer minted on refresh; offline access withdrawn ends offline
// families.
func TestRefreshFollowsCurrentScopes(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.offlineLogin(e.browser())
	doc := *e.doc
	doc.Applications = append([]issuerconfig.Application(nil), e.doc.Applications...)
	doc.Generation++
	for i := range doc.Applications {
		if doc.Applications[i].ClientID == "web.shop" {
			spec := doc.Applications[i].Spec.DeepCopy()
			spec.APIs[0].Scopes = nil
			doc.Applications[i].Spec = *spec
		}
	}
	if err := e.srv.Swap(&doc); err != nil {
		t.Fatal(err)
	}
	status, body := e.refresh("web.shop", tok.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh: %d %v", status, body)
	}
	if scope := e.verifyAccess(body["access_token"].(string), "https://orders.acme.test")["scope"]; strings.Contains(scope.(string), "read:orders") {
		t.Errorf("refreshed access token scope %q still holds the removed read:orders", scope)
	}
	doc.Generation++
	for i := range doc.Applications {
		if doc.Applications[i].ClientID == "web.shop" {
			spec := doc.Applications[i].Spec.DeepCopy()
			spec.RefreshToken.AllowOfflineAccess = false
			doc.Applications[i].Spec = *spec
		}
	}
	if err := e.srv.Swap(&doc); err != nil {
		t.Fatal(err)
	}
	if status, body := e.refresh("web.shop", body["refresh_token"].(string)); status != http.StatusBadRequest {
		t.Errorf("offline refresh after offline access was withdrawn: %d %v, want invalid_grant", status, body)
	}
}

// probeStore wraps a store for tests: while down every operation fails,
// as with an unreachable API server, and reads are counted (API GETs).
type probeStore struct {
	store.Store
	down  atomic.Bool
	reads atomic.Int64
}

var errDown = errors.New("connection refused")

type probeTable[T any] struct {
	store.Table[T]
	p *probeStore
}

func (t probeTable[T]) Get(ctx context.Context, key string) (store.Record[T], error) {
	t.p.reads.Add(1)
	if t.p.down.Load() {
		return store.Record[T]{}, errDown
	}
	return t.Table.Get(ctx, key)
}
func (t probeTable[T]) Create(ctx context.Context, key string, v T) (store.Record[T], error) {
	if t.p.down.Load() {
		return store.Record[T]{}, errDown
	}
	return t.Table.Create(ctx, key, v)
}
func (t probeTable[T]) Update(ctx context.Context, r store.Record[T]) (store.Record[T], error) {
	if t.p.down.Load() {
		return store.Record[T]{}, errDown
	}
	return t.Table.Update(ctx, r)
}
func (t probeTable[T]) Delete(ctx context.Context, key, version string) error {
	if t.p.down.Load() {
		return errDown
	}
	return t.Table.Delete(ctx, key, version)
}

func (p *probeStore) Sessions() store.Table[store.Session] {
	return probeTable[store.Session]{p.Store.Sessions(), p}
}
func (p *probeStore) Codes() store.Table[store.Code] {
	return probeTable[store.Code]{p.Store.Codes(), p}
}
func (p *probeStore) Families() store.Table[store.RefreshFamily] {
	return probeTable[store.RefreshFamily]{p.Store.Families(), p}
}
func (p *probeStore) Revocations() store.Table[store.Revocation] {
	return probeTable[store.Revocation]{p.Store.Revocations(), p}
}
func (p *probeStore) Consents() store.Table[store.Consent] {
	return probeTable[store.Consent]{p.Store.Consents(), p}
}

// TestStoreOutage: user flows answer 503 with Retry-After and issue
// nothing; client_credentials keeps working; nothing is lost after.
func TestStoreOutage(t *testing.T) {
	var flaky *probeStore
	e := newEnvOver(t, nil, func(mem *memory.Store) store.Store { flaky = &probeStore{Store: mem}; return flaky })
	b := e.browser()
	tok, err := e.loginFlow(b, "web.shop", webCB)
	if err != nil {
		t.Fatal(err)
	}
	flaky.down.Store(true)
	cfg := e.oauth2Config("web.shop", webCB, "openid")
	resp, _ := b.get(cfg.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("authorize from the session while the store is down: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if status, body := e.refresh("web.shop", tok.RefreshToken); status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("refresh while the store is down: %d %v, want 503 temporarily_unavailable", status, body)
	}
	m2m := "m2m.shop"
	if status, body := e.postForm(PathToken, url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}, m2m, issuertest.Secrets[m2m]); status != http.StatusOK {
		t.Errorf("client_credentials while the store is down: %d %v, want 200", status, body)
	}
	flaky.down.Store(false)
	if status, body := e.refresh("web.shop", tok.RefreshToken); status != http.StatusOK {
		t.Errorf("refresh once the store is back: %d %v, want the same token still working", status, body)
	}
	if cb := e.silent(b); cb.Get("code") == "" {
		t.Errorf("prompt=none once the store is back: %v", cb)
	}
}
