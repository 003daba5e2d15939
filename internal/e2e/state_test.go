package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	. "github.com/onsi/gomega"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	statev1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/dev"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// webConfig is the back office's OAuth configuration (a confidential web
// application with refresh tokens).
func (s *shop) webConfig(t testing.TB) oauth2.Config {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), s.issuer)
	must(t, err)
	id, secret := clientSecret(t, s.ns, s.web.Name)
	return oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: string(s.web.Spec.RedirectURIs[0]), Scopes: []string{oidc.ScopeOpenID, "orders:read"}}
}

// webAuthorize runs the browser part of the back office's sign-in and
// returns what the issuer sends back to the application.
func (s *shop) webAuthorize(t testing.TB, b *browser, prompt string) url.Values {
	t.Helper()
	cfg := s.webConfig(t)
	opts := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("audience", s.orders.Spec.Audience)}
	if prompt != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", prompt))
	}
	return b.authorize(t, cfg.AuthCodeURL("st", opts...))
}

// webLogin signs the browser in to the back office and returns its tokens
// (nil when the issuer answered with an error, in back).
func (s *shop) webLogin(t testing.TB, b *browser, prompt string) (*oauth2.Token, url.Values) {
	t.Helper()
	back := s.webAuthorize(t, b, prompt)
	if back.Get("code") == "" {
		return nil, back
	}
	cfg := s.webConfig(t)
	tok, err := cfg.Exchange(context.Background(), back.Get("code"))
	must(t, err)
	return tok, back
}

// post sends a form to an issuer endpoint at base (one replica) with the
// back office's credentials and decodes the JSON answer.
func (s *shop) post(t testing.TB, base, path string, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	id, secret := clientSecret(t, s.ns, s.web.Name)
	return postAs(t, id, secret, base, path, form)
}

// postAs sends a form with the given client credentials (read beforehand:
// a test may have paused the API server).
func postAs(t testing.TB, id, secret, base, path string, form url.Values) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, resp.Header
}

func refreshForm(rt string) url.Values {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
}

// stateObjects counts the tenant namespace's state records of each kind.
func stateObjects(t testing.TB, ns string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, kind := range []string{"SessionList", "AuthorizationCodeList", "RefreshFamilyList", "RevokedTokenList"} {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(statev1.GroupVersion.WithKind(kind))
		must(t, k8s.List(context.Background(), list, client.InNamespace(ns)))
		out[strings.TrimSuffix(kind, "List")] = len(list.Items)
	}
	return out
}

// TestRestartKeepsSessions: every issuer replica is killed (SIGKILL, as an
// OOM kill or a node loss would) and started again; the user's session and
// refresh token still work.
func TestRestartKeepsSessions(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	b := newBrowser(t, s.issuer)
	tok, _ := s.webLogin(t, b, "")
	before := kubelet.Replicas(s.ns, issuerconfig.IssuerName("acme"))
	g.Expect(before).NotTo(BeEmpty())

	kubelet.Kill(s.ns, issuerconfig.IssuerName("acme"))
	eventually(t, func(g Gomega) {
		after := kubelet.Replicas(s.ns, issuerconfig.IssuerName("acme"))
		g.Expect(after).NotTo(BeEmpty())
		g.Expect(after[0].PID).NotTo(Equal(before[0].PID), "a new process")
		resp, err := http.Get(s.issuer + "/.well-known/openid-configuration")
		g.Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
	})
	// The refresh first: a new code exchange of the same application in
	// the same session replaces its grant (docs/state.md).
	status, body, _ := s.post(t, s.issuer, "/oauth/token", refreshForm(tok.RefreshToken))
	g.Expect(status).To(Equal(http.StatusOK), "refresh after the restart: %v", body)
	silent, back := s.webLogin(t, b, "none")
	g.Expect(back.Get("error")).To(BeEmpty(), "prompt=none after the restart")
	g.Expect(silent).NotTo(BeNil())
}

// TestReplicasShareState: with two replicas, a code issued by one is
// redeemed at the other, reuse detection and revocation span both, and a
// concurrent refresh race across them has exactly one winner.
func TestReplicasShareState(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	patch(t, s.tenant, func(tn *v1alpha1.Tenant) { tn.Spec.Replicas = new(int32(2)) })
	var replicas []dev.Replica
	eventually(t, func(g Gomega) {
		replicas = kubelet.Replicas(s.ns, issuerconfig.IssuerName("acme"))
		g.Expect(replicas).To(HaveLen(2))
		for _, r := range replicas {
			resp, err := http.Get(r.URL + "/.well-known/openid-configuration")
			g.Expect(err).NotTo(HaveOccurred())
			resp.Body.Close()
		}
		must(t, k8s.Get(context.Background(), client.ObjectKeyFromObject(s.tenant), s.tenant))
		g.Expect(s.tenant.Status.Issuer.LiveReplicas).To(Equal(int32(2)))
	})
	a, bb := replicas[0].URL, replicas[1].URL
	g.Expect(a).NotTo(Equal(bb))

	// A code issued at A, redeemed at B. The issuer URL's proxy picks a
	// replica per connection, so the browser is pinned to A the way
	// /etc/hosts would pin it: every connection to the issuer URL dials
	// A's Pod address.
	cfg := s.webConfig(t)
	aHost := strings.TrimPrefix(a, "http://")
	code := func() string {
		b := newBrowser(t, s.issuer)
		b.client.Transport = &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, aHost)
		}}
		back := b.authorize(t, cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("audience", s.orders.Spec.Audience)))
		g.Expect(back.Get("code")).NotTo(BeEmpty(), "%v", back)
		return back.Get("code")
	}
	redeem := url.Values{"grant_type": {"authorization_code"}, "code": {code()}, "redirect_uri": {cfg.RedirectURL}}
	status, tok, _ := s.post(t, bb, "/oauth/token", redeem)
	g.Expect(status).To(Equal(http.StatusOK), "code from A redeemed at B: %v", tok)
	rt1 := tok["refresh_token"].(string)

	status, body, _ := s.post(t, a, "/oauth/token", refreshForm(rt1))
	g.Expect(status).To(Equal(http.StatusOK), "refresh at A: %v", body)
	rt2 := body["refresh_token"].(string)
	// A client whose response from A was lost retries at B within
	// reuseInterval: it gets the successor A gave, not a new branch.
	status, body, _ = s.post(t, bb, "/oauth/token", refreshForm(rt1))
	g.Expect(status).To(Equal(http.StatusOK), "a retry of the rotated token at B: %v", body)
	g.Expect(body["refresh_token"]).To(Equal(rt2), "the retry at B got a new branch, not A's successor")
	status, body, _ = s.post(t, a, "/oauth/token", refreshForm(rt2))
	g.Expect(status).To(Equal(http.StatusOK), "refresh at A: %v", body)
	rt3 := body["refresh_token"].(string)
	// rt1 is now two rotations old: presenting it is reuse, at any replica.
	status, body, _ = s.post(t, bb, "/oauth/token", refreshForm(rt1))
	g.Expect(status).To(Equal(http.StatusBadRequest), "replay of an old token at B: %v", body)
	g.Expect(body["error"]).To(Equal("invalid_grant"))
	status, _, _ = s.post(t, a, "/oauth/token", refreshForm(rt3))
	g.Expect(status).To(Equal(http.StatusBadRequest), "the replay revoked the family at every replica")

	// Revoke at A, introspect at B.
	redeem.Set("code", code())
	_, tok, _ = s.post(t, a, "/oauth/token", redeem)
	at := tok["access_token"].(string)
	_, body, _ = s.post(t, bb, "/oauth/introspect", url.Values{"token": {at}})
	g.Expect(body["active"]).To(BeTrue())
	status, _, _ = s.post(t, a, "/oauth/revoke", url.Values{"token": {at}})
	g.Expect(status).To(Equal(http.StatusOK))
	_, body, _ = s.post(t, bb, "/oauth/introspect", url.Values{"token": {at}})
	g.Expect(body["active"]).To(BeFalse(), "revoked at A, inactive at B")

	// A refresh race across the replicas: one outcome. The one winner
	// rotates; the others present what is now the previous token within
	// reuseInterval and get the very same successor: no fork.
	redeem.Set("code", code())
	_, tok, _ = s.post(t, bb, "/oauth/token", redeem)
	rt := tok["refresh_token"].(string)
	var wg sync.WaitGroup
	results := make([]int, 8)
	successors := make([]any, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body map[string]any
			results[i], body, _ = s.post(t, []string{a, bb}[i%2], "/oauth/token", refreshForm(rt))
			successors[i] = body["refresh_token"]
		}()
	}
	wg.Wait()
	distinct := map[any]bool{}
	for i, st := range results {
		g.Expect(st).To(Equal(http.StatusOK), "statuses %v", results)
		distinct[successors[i]] = true
	}
	g.Expect(distinct).To(HaveLen(1), "the racing refreshes forked the family")
}

// TestUserChangesEndSessions: a changed password and a removed user end
// the user's sessions and refresh tokens at their next use.
func TestUserChangesEndSessions(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	setUsers := func(htpasswd string) {
		sec := &corev1.Secret{}
		must(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "users"}, sec))
		sec.Data = map[string][]byte{"htpasswd": []byte(htpasswd)}
		must(t, k8s.Update(context.Background(), sec))
	}
	b := newBrowser(t, s.issuer)
	tok, _ := s.webLogin(t, b, "")
	newHash, err := bcrypt.GenerateFromPassword([]byte("through the looking glass"), 10)
	must(t, err)
	setUsers("alice@acme.test:" + string(newHash) + "\n")
	eventually(t, func(g Gomega) {
		g.Expect(s.webAuthorize(t, b, "none").Get("error")).To(Equal("login_required"), "prompt=none after a password change")
	})
	status, body, _ := s.post(t, s.issuer, "/oauth/token", refreshForm(tok.RefreshToken))
	g.Expect(status).To(Equal(http.StatusBadRequest), "refresh after a password change: %v", body)

	b2 := newBrowser(t, s.issuer)
	b2.password = "through the looking glass"
	tok, _ = s.webLogin(t, b2, "")
	setUsers("bob@acme.test:" + aliceHash + "\n")
	eventually(t, func(g Gomega) {
		g.Expect(s.webAuthorize(t, b2, "none").Get("error")).To(Equal("login_required"), "prompt=none after the user was removed")
	})
	status, body, _ = s.post(t, s.issuer, "/oauth/token", refreshForm(tok.RefreshToken))
	g.Expect(status).To(Equal(http.StatusBadRequest), "refresh after the user was removed: %v", body)
}

// rss is a process's resident memory in bytes.
func rss(t testing.TB, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestAnonymousFloodCreatesNothing: 5000 authorization requests of users
// who never log in create no object and leave the issuer's memory bounded
// (each travels sealed in its login page URL).
func TestAnonymousFloodCreatesNothing(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	g := NewWithT(t)
	_, challenge := pkce()
	q := url.Values{"client_id": {s.spa.Status.ClientID}, "redirect_uri": {string(s.spa.Spec.RedirectURIs[0])},
		"response_type": {"code"}, "scope": {"openid"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		"state": {strings.Repeat("<", 2048)}, "nonce": {strings.Repeat("n", 512)}}
	u := s.issuer + "/authorize?" + q.Encode()
	primary := kubelet.Replicas(s.ns, issuerconfig.IssuerName("acme"))[0]
	before, objects := rss(t, primary.PID), stateObjects(t, s.ns)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 5000; i += 4 {
				resp, err := noFollow.Get(u)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
					t.Errorf("authorize: %d", resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	g.Expect(stateObjects(t, s.ns)).To(Equal(objects), "no state object for users who never logged in")
	grew := rss(t, primary.PID) - before
	t.Logf("issuer RSS grew by %d KiB over 5000 anonymous requests", grew>>10)
	g.Expect(grew).To(BeNumerically("<", 32<<20), "issuer memory stays bounded")
}

// apiServerPID finds the kube-apiserver process of the test control plane.
func apiServerPID(t testing.TB) int {
	u, err := url.Parse(apiServer)
	must(t, err)
	port := u.Port()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(data), "\x00")
		if len(args) > 0 && strings.HasSuffix(args[0], "kube-apiserver") && strings.Contains(string(data), "--secure-port="+port+"\x00") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	t.Fatalf("kube-apiserver process with --secure-port=%s not found", port)
	return 0
}

// TestAPIServerOutage: while the API server does not answer (its process
// paused), user flows answer 503 with Retry-After and issue nothing,
// client_credentials keeps working, and nothing is lost once it is back.
// Not parallel: every other test would stall with the API server.
func TestAPIServerOutage(t *testing.T) {
	s := newShop(t)
	g := NewWithT(t)
	b := newBrowser(t, s.issuer)
	tok, _ := s.webLogin(t, b, "")
	webID, webSecret := clientSecret(t, s.ns, s.web.Name)
	m2mID, m2mSecret := clientSecret(t, s.ns, s.m2m.Name)
	pid := apiServerPID(t)
	must(t, syscall.Kill(pid, syscall.SIGSTOP))
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()

	status, body, header := postAs(t, webID, webSecret, s.issuer, "/oauth/token", refreshForm(tok.RefreshToken))
	g.Expect(status).To(Equal(http.StatusServiceUnavailable), "refresh while the API server is down: %v", body)
	g.Expect(body["error"]).To(Equal("temporarily_unavailable"))
	g.Expect(header.Get("Retry-After")).NotTo(BeEmpty())
	resp, err := b.client.Get(s.issuer + "/authorize?" + url.Values{"client_id": {s.spa.Status.ClientID},
		"redirect_uri": {string(s.spa.Spec.RedirectURIs[0])}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {strings.Repeat("c", 43)}, "code_challenge_method": {"S256"}, "prompt": {"none"}}.Encode())
	must(t, err)
	resp.Body.Close()
	g.Expect(resp.StatusCode).To(Equal(http.StatusServiceUnavailable), "authorize from a session while the API server is down")
	g.Expect(resp.Header.Get("Retry-After")).NotTo(BeEmpty())
	status, body, _ = postAs(t, m2mID, m2mSecret, s.issuer, "/oauth/token", url.Values{"grant_type": {"client_credentials"}, "audience": {s.bills.Spec.Audience}})
	g.Expect(status).To(Equal(http.StatusOK), "client_credentials needs no state: %v", body)

	resume()
	eventually(t, func(g Gomega) {
		status, body, _ := postAs(t, webID, webSecret, s.issuer, "/oauth/token", refreshForm(tok.RefreshToken))
		g.Expect(status).To(Equal(http.StatusOK), "the same refresh token once the API server is back: %v", body)
	})
	_, back := s.webLogin(t, b, "none")
	g.Expect(back.Get("error")).To(BeEmpty(), "the session survived the outage")

}
