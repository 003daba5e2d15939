package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres/pgtest"
)

// TestPostgreSQLTenant runs a Tenant on the PostgreSQL store through what
// its users live through: a login, refresh tokens rotated across two
// replicas without pause through a rolling restart and then a restart of
// the database itself, and a removed user. Nothing is lost: no refresh
// chain ends in invalid_grant (requests that met the database down got
// 503 and succeeded when retried with the same token), the browser's
// session still signs in silently, and the removed user's session and
// refresh token end. The records live in PostgreSQL, not in the cluster.
func TestPostgreSQLTenant(t *testing.T) {
	t.Parallel()
	server := pgtest.Shared(t)
	dbURL := pgtest.Database(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "state-db"}, StringData: map[string]string{"url": dbURL}}
	s := newShopWith(t, func(spec *v1alpha1.TenantSpec) {
		spec.State = &v1alpha1.StateSpec{Type: v1alpha1.StatePostgreSQL,
			PostgreSQL: &v1alpha1.PostgreSQLState{SecretRef: v1alpha1.SecretKeyReference{Name: "state-db"}}}
	}, secret)
	g := NewWithT(t)
	must(t, k8s.Get(context.Background(), client.ObjectKeyFromObject(s.tenant), s.tenant))
	g.Expect(s.tenant.Status.State).NotTo(BeNil())
	g.Expect(s.tenant.Status.State.Backend).To(Equal(v1alpha1.StatePostgreSQL))

	b := newBrowser(t, s.issuer)
	tok, _ := s.webLogin(t, b, "")
	g.Expect(tok.RefreshToken).NotTo(BeEmpty())
	s, tokens, before := refreshShopOf(t, s)
	for kind, n := range stateObjects(t, s.ns) {
		g.Expect(n).To(BeZero(), "%s records in the cluster: the Tenant's state is in PostgreSQL", kind)
	}

	chains := runRefreshChains(t, s, tokens)
	time.Sleep(time.Second)
	rolloutRestart(t, s, before, chains)
	afterRollout, failedBefore := chains.ok.Load(), chains.inTransit.Load()

	// The database restarts (fast shutdown: every connection is cut)
	// while the chains run: requests meanwhile get 503, the pools
	// reconnect, and each chain goes on from the token it last held.
	must(t, server.Restart(time.Second))
	eventually(t, func(g Gomega) {
		g.Expect(chains.ok.Load()).To(BeNumerically(">", afterRollout+100), "the clients kept refreshing after the database restart")
	})
	chains.halt()
	g.Expect(chains.inTransit.Load()).To(BeNumerically(">", failedBefore), "no request met the database down: the restart tested nothing")
	t.Logf("rollout and a database restart: %d refreshes over %d chains, %d failed in transit (%d recovered by a retry with the same token), %d lost",
		chains.ok.Load(), len(tokens), chains.inTransit.Load(), chains.recovered.Load(), chains.lost.Load())
	g.Expect(chains.lost.Load()).To(BeZero(), "a chain was lost: %v", chains.firstLoss.Load())
	g.Expect(chains.recovered.Load()).To(Equal(chains.inTransit.Load()))

	// While the database is down: what needs stored state answers 503
	// with Retry-After and changes nothing; client_credentials, which
	// stores nothing, keeps working.
	must(t, server.Down())
	upAgain := false
	defer func() {
		if !upAgain {
			_ = server.Up()
		}
	}()
	status, body, header := s.post(t, s.issuer, "/oauth/token", refreshForm(tok.RefreshToken))
	g.Expect(status).To(Equal(http.StatusServiceUnavailable), "refresh with the database down: %v", body)
	g.Expect(body["error"]).To(Equal("temporarily_unavailable"))
	g.Expect(header.Get("Retry-After")).NotTo(BeEmpty())
	_, err := s.clientCredentials(t, s.bills.Spec.Audience)
	g.Expect(err).NotTo(HaveOccurred(), "client_credentials with the database down")
	must(t, server.Up())
	upAgain = true

	// The session from before both restarts still signs in silently, and
	// its refresh token (bound to it) still works.
	silent, back := s.webLogin(t, b, "none")
	g.Expect(back.Get("error")).To(BeEmpty(), "prompt=none after the restarts")
	g.Expect(silent).NotTo(BeNil())
	status, body, _ = s.post(t, s.issuer, "/oauth/token", refreshForm(silent.RefreshToken))
	g.Expect(status).To(Equal(http.StatusOK), "refresh after the restarts: %v", body)

	// The user is removed: the session and its refresh token end.
	users := &corev1.Secret{}
	must(t, k8s.Get(context.Background(), client.ObjectKey{Namespace: s.ns, Name: "users"}, users))
	users.Data = map[string][]byte{"htpasswd": []byte("bob@acme.test:" + aliceHash + "\n")}
	must(t, k8s.Update(context.Background(), users))
	eventually(t, func(g Gomega) {
		g.Expect(s.webAuthorize(t, b, "none").Get("error")).To(Equal("login_required"), "prompt=none after the user was removed")
	})
	status, body, _ = s.post(t, s.issuer, "/oauth/token", refreshForm(body["refresh_token"].(string)))
	g.Expect(status).To(Equal(http.StatusBadRequest), "refresh after the user was removed: %v", body)
}
