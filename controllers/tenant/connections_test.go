package tenant

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// TestUnrestrictedPublicConnections (security review N3): a connection to
// a provider anyone can register at, with neither allowedDomains nor
// allowedGroups, is called out in its status and in ConnectionsReady;
// restricted ones and private providers are not.
func TestUnrestrictedPublicConnections(t *testing.T) {
	conn := func(issuer string, domains ...string) v1alpha1.Connection {
		return v1alpha1.Connection{Name: "c", OIDC: v1alpha1.OIDCConnection{IssuerURL: issuer, AllowedDomains: domains}}
	}
	for _, c := range []struct {
		conn v1alpha1.Connection
		want bool
	}{
		{conn("https://accounts.google.com"), true},
		{conn("https://accounts.google.com/"), true},
		{conn("https://gitlab.com"), true},
		{conn("https://login.microsoftonline.com/common/v2.0"), true},
		{conn("https://accounts.google.com", "corp.test"), false},
		{v1alpha1.Connection{OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://gitlab.com", AllowedGroups: []string{"corp"}}}, false},
		{conn("https://login.microsoftonline.com/4a1c-tenant/v2.0"), false},
		{conn("https://id.corp.test"), false},
	} {
		if got := unrestricted(c.conn) != ""; got != c.want {
			t.Errorf("%s %v: unrestricted = %v, want %v", c.conn.OIDC.IssuerURL, c.conn.OIDC.AllowedDomains, got, c.want)
		}
	}
	var conds []metav1.Condition
	setConnectionsCondition(&conds, 3, []v1alpha1.ConnectionStatus{
		{Name: "corp", Ready: true, Reason: v1alpha1.ReasonConnectionsReady},
		{Name: "google", Ready: true, Reason: v1alpha1.ReasonUnrestricted, Message: unrestricted(conn("https://accounts.google.com"))},
	})
	c := meta.FindStatusCondition(conds, v1alpha1.ConditionConnectionsReady)
	if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonUnrestricted || !strings.Contains(c.Message, "Connection google is unrestricted") {
		t.Errorf("ConnectionsReady with an unrestricted connection: %+v", c)
	}
}
