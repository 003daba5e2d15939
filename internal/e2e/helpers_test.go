package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/controlplane"
)

const (
	alicePassword = "wonderland"
	aliceHash     = "$2a$10$1Uhiau72Caah0gSrQWrNmO.8dvcKXOZNH3Fq9lROb4S26Z08V2RVy"
)

// newTenant creates a namespace with a Tenant whose issuer listens on a free
// loopback port (the Kubelet binds the first replica there) and a user.
func newTenant(t testing.TB, mutate func(*v1alpha1.TenantSpec)) (ns, issuer string) {
	return newTenantWith(t, mutate)
}

// newTenantWith is newTenant that first creates extra objects (Secrets
// the Tenant names) in the Tenant's namespace.
func newTenantWith(t testing.TB, mutate func(*v1alpha1.TenantSpec), extra ...client.Object) (ns, issuer string) {
	t.Helper()
	ctx := context.Background()
	ns = controlplane.UniqueNamespace("e")
	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	for _, o := range extra {
		o.SetNamespace(ns)
		must(t, k8s.Create(ctx, o))
	}
	issuer = "http://127.0.0.1:" + freePort(t)
	must(t, k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: ns},
		StringData: map[string]string{"htpasswd": "alice@acme.test:" + aliceHash + "\n"}}))
	tn := &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: ns},
		Spec: v1alpha1.TenantSpec{IssuerURL: issuer, UsersSecretRef: &v1alpha1.LocalSecretReference{Name: "users"}}}
	if mutate != nil {
		mutate(&tn.Spec)
	}
	must(t, k8s.Create(ctx, tn))
	return ns, issuer
}

// freePort picks a free loopback port for an issuer to bind later. It
// picks below the kernel's ephemeral range, never twice: a port the kernel
// hands out for ":0" listeners and outgoing connections could be taken by
// one of a hundred running issuers between this pick and the bind.
func freePort(t testing.TB) string {
	t.Helper()
	low := 32768
	if data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(data)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 20000 {
				low = n
			}
		}
	}
	pickedPortsMu.Lock()
	defer pickedPortsMu.Unlock()
	for range 1000 {
		port := strconv.Itoa(20000 + mrand.IntN(low-20000))
		if pickedPorts[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			continue
		}
		_ = l.Close()
		pickedPorts[port] = true
		return port
	}
	t.Fatal("no free loopback port below the ephemeral range")
	return ""
}

var (
	pickedPortsMu sync.Mutex
	pickedPorts   = map[string]bool{}
)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eventually(t testing.TB, f func(g Gomega)) {
	t.Helper()
	NewWithT(t).Eventually(f).WithTimeout(60 * time.Second).WithPolling(200 * time.Millisecond).Should(Succeed())
}

// waitReady waits until every object is Ready=True at its generation.
func waitReady(t testing.TB, objs ...client.Object) {
	t.Helper()
	eventually(t, func(g Gomega) {
		for _, o := range objs {
			g.Expect(k8s.Get(context.Background(), client.ObjectKeyFromObject(o), o)).To(Succeed())
			var conds []metav1.Condition
			switch x := o.(type) {
			case *v1alpha1.Tenant:
				conds = x.Status.Conditions
			case *v1alpha1.Application:
				conds = x.Status.Conditions
			case *v1alpha1.API:
				conds = x.Status.Conditions
			}
			c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil(), "%T %s has no Ready", o, o.GetName())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%T %s: %s", o, o.GetName(), c.Message)
			g.Expect(c.ObservedGeneration).To(Equal(o.GetGeneration()))
		}
	})
}

// claims decodes a JWT's payload (signatures are verified separately).
func claims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	must(t, err)
	var c map[string]any
	must(t, json.Unmarshal(raw, &c))
	return c
}

func lifetimeOf(t testing.TB, jwt string) int64 {
	c := claims(t, jwt)
	return int64(c["exp"].(float64) - c["iat"].(float64))
}

// clientSecret reads a confidential client's generated secret, as the
// application's deployment would mount it.
func clientSecret(t testing.TB, ns, app string) (id, secret string) {
	t.Helper()
	s := &corev1.Secret{}
	must(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: app + "-oidc-client"}, s))
	return string(s.Data["client-id"]), string(s.Data["client-secret"])
}

// browser is a user agent with a cookie jar that stops at redirects leaving
// the issuer, where the application would take over.
type browser struct {
	issuer *url.URL
	client *http.Client
	// password is what the browser's user types (alice's by default).
	password string
}

func newBrowser(t testing.TB, issuer string) *browser {
	u, err := url.Parse(issuer)
	must(t, err)
	jar, _ := cookiejar.New(nil)
	return &browser{issuer: u, password: alicePassword, client: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != u.Host {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

var (
	reID   = regexp.MustCompile(`name="r" value="([^"]+)"`)
	reCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// authorize opens authURL, logs in as alice if the login page appears, and
// returns the query or fragment the issuer sends to the application.
func (b *browser) authorize(t testing.TB, authURL string) url.Values {
	t.Helper()
	resp, err := b.client.Get(authURL)
	must(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="password"`) {
		id, csrf := reID.FindStringSubmatch(string(body)), reCSRF.FindStringSubmatch(string(body))
		if id == nil || csrf == nil {
			t.Fatalf("login page without the sealed request/csrf:\n%s", body)
		}
		loginURL := *resp.Request.URL
		loginURL.RawQuery = ""
		resp, err = b.client.PostForm(loginURL.String(), url.Values{"r": {id[1]}, "csrf": {csrf[1]},
			"username": {"alice@acme.test"}, "password": {b.password}})
		must(t, err)
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("want a redirect to the application, got %d: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	must(t, err)
	if loc.Fragment != "" {
		v, _ := url.ParseQuery(loc.Fragment)
		return v
	}
	return loc.Query()
}

func pkce() (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("verifier-%d-padding-to-43-characters-at-least", time.Now().UnixNano())))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// headerField reads one field of a JWT's JOSE header.
func headerField(t testing.TB, encoded, field string) string {
	raw, err := base64.RawURLEncoding.DecodeString(encoded)
	must(t, err)
	var h map[string]any
	must(t, json.Unmarshal(raw, &h))
	v, _ := h[field].(string)
	return v
}
