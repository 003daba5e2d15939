package manager_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// TestMetricsNeedATokenAllowedToReadThem: the manager serves /metrics over
// HTTPS to a bearer token the API server authenticates and whose user may
// get /metrics (ClusterRole idtenant-metrics-reader), to nobody else; the
// reviews it asks for are all config/rbac grants it for that.
func TestMetricsNeedATokenAllowedToReadThem(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)
	// The certificate is self-signed (no --metrics-cert-dir): what is
	// checked here is who may read, not the chain.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scrape := func(g Gomega, token string) (int, string) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+metricsAddr+"/metrics", nil)
		g.Expect(err).NotTo(HaveOccurred())
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := insecure.Do(req)
		g.Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	eventually(t, func(g Gomega) {
		code, _ := scrape(g, "")
		g.Expect(code).To(Equal(http.StatusUnauthorized), "no token")
	})

	const ns = "monitoring"
	g.Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	token := func(sa string) string {
		g.Expect(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}})).To(Succeed())
		tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		return tr.Status.Token
	}
	// Two callers: the manager's filter caches a denial for 30 s, so the
	// one refused is not the one later allowed.
	intruder, prometheus := token("intruder"), token("prometheus")

	code, body := scrape(g, intruder)
	g.Expect(code).To(Equal(http.StatusForbidden), "a valid token without idtenant-metrics-reader: %s", body)
	// A token the API server rejects: controller-runtime's filter answers
	// 500 "Authentication failed" (the TokenReview carries an error), not
	// 401; what matters is that nothing is served.
	code, body = scrape(g, intruder+"x")
	g.Expect(code).To(BeElementOf(http.StatusUnauthorized, http.StatusInternalServerError), "a forged token")
	g.Expect(body).NotTo(ContainSubstring("controller_runtime"))

	g.Expect(admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-idtenant-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "idtenant-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: ns}},
	})).To(Succeed())
	// Scrape only once the authorizer knows the binding: an early denial
	// would be cached by the manager.
	eventually(t, func(g Gomega) {
		sar, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:                  "system:serviceaccount:" + ns + ":prometheus",
			Groups:                []string{"system:serviceaccounts", "system:serviceaccounts:" + ns},
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
		}}, metav1.CreateOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(sar.Status.Allowed).To(BeTrue())
	})
	code, body = scrape(g, prometheus)
	g.Expect(code).To(Equal(http.StatusOK), "%s", body)
	g.Expect(body).To(ContainSubstring("controller_runtime_reconcile_total"), "controller-runtime's own metrics are kept")
}
