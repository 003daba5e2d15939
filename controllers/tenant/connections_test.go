package tenant

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

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

// TestAdmissionWarningKnowsThePublicIssuers: the admission policy that
// warns about unrestricted connections (config/admission) lists exactly the
// providers status calls Unrestricted.
func TestAdmissionWarningKnowsThePublicIssuers(t *testing.T) {
	data, err := os.ReadFile("../../config/admission/unrestricted_connections.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var policy struct {
		Spec struct {
			Variables []struct{ Name, Expression string } `json:"variables"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(bytes.SplitN(data, []byte("\n---"), 2)[0], &policy); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, v := range policy.Spec.Variables {
		if v.Name == "publicIssuers" {
			for _, m := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(v.Expression, -1) {
				listed = append(listed, m[1])
			}
		}
	}
	if !slices.Equal(listed, publicIssuers) {
		t.Errorf("the admission policy lists %v, status knows %v", listed, publicIssuers)
	}
}
