package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/cli"
)

// TestCLIExplainsAndDraws runs `idtenant explain` and `idtenant timeline`
// against a running tenant whose 47m sessions cut a 2h ID token and a 3h
// access token: the auditor sees the reachable values, the setting that
// decided each, the configured value beside it, the replica serving the
// newest generation, and a live discovery and JWKS check of the real issuer.
func TestCLIExplainsAndDraws(t *testing.T) {
	t.Parallel()
	ns, issuer := newTenant(t, func(s *v1alpha1.TenantSpec) {
		s.Session = &v1alpha1.SessionSpec{AbsoluteTimeout: dur("47m")}
	})
	ref := v1alpha1.TenantReference{Name: "acme"}
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: ns} }
	tenant := &v1alpha1.Tenant{ObjectMeta: meta("acme")}
	orders := &v1alpha1.API{ObjectMeta: meta("orders"), Spec: v1alpha1.APISpec{TenantRef: ref, Audience: "https://orders.acme.test",
		Scopes: []v1alpha1.APIScope{{Name: "orders:read"}}, TokenLifetime: dur("3h"), TokenLifetimeForBrowserFlows: dur("20m")}}
	web := &v1alpha1.Application{ObjectMeta: meta("backoffice"), Spec: v1alpha1.ApplicationSpec{TenantRef: ref, Type: v1alpha1.RegularWeb,
		RedirectURIs: []v1alpha1.RedirectURI{"https://backoffice.acme.test/cb"}, IDTokenLifetime: dur("2h"),
		APIs: []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"orders:read"}}}}}
	for _, o := range []client.Object{orders, web} {
		must(t, k8s.Create(context.Background(), o))
	}
	waitReady(t, tenant, orders, web)

	login := time.Date(2026, 12, 2, 14, 0, 0, 0, time.UTC)
	run := func(command string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := cli.Run(context.Background(), append([]string{command}, args...), &out, &errOut, cli.Options{Client: k8s, Now: func() time.Time { return login }}); err != nil {
			t.Fatalf("idtenant %s %s: %v\n%s", command, strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}

	explained := run("explain", "application", "backoffice", "-n", ns)
	capped := "Tenant acme/spec.session.absoluteTimeout"
	for _, want := range []string{
		"Tenant " + ns + "/acme  Ready",
		"issuer URL " + issuer,
		"absolute    47m    ← " + capped,
		"Application " + ns + "/backoffice (RegularWeb)  Ready",
		"client_id backoffice." + ns,
		"retry     10s    ← Application backoffice/spec.refreshToken.reuseInterval (default)",
		"ID token       47m    ← " + capped + " (configured 2h)",
		"API " + ns + "/orders  https://orders.acme.test  Ready",
		"Standard access token  47m    ← " + capped + " (configured 3h)",
		"replicas 1 desired, 1 live, 1 on the newest",
		"serves generation",
		"(newest)",
		"discovery  " + issuer + "/.well-known/openid-configuration  OK",
		"JWKS       " + issuer,
	} {
		if !strings.Contains(explained, want) {
			t.Errorf("explain lacks %q; it printed:\n%s", want, explained)
		}
	}
	if strings.Contains(explained, "FAILED") {
		t.Errorf("the live check failed against a running issuer:\n%s", explained)
	}

	svg := filepath.Join(t.TempDir(), "timeline.svg")
	drawn := run("timeline", "application", "backoffice", "-n", ns, "--svg", svg, "--width", "40")
	for _, want := range []string{
		"a user who logs in at 14:00 UTC and then does nothing",
		"ID token", "access " + ns + "/orders", "session, at most",
		"47m     Dec 2 14:47  ← " + capped,
	} {
		if !strings.Contains(drawn, want) {
			t.Errorf("timeline lacks %q; it printed:\n%s", want, drawn)
		}
	}
	// Nothing outlives the session: every bar is at most as long as its.
	for _, line := range strings.Split(drawn, "\n") {
		if n := strings.Count(line, "█") + strings.Count(line, "▒"); n > 40 {
			t.Errorf("a bar longer than the width: %q", line)
		}
	}
	data, err := os.ReadFile(svg)
	must(t, err)
	var doc struct {
		XMLName xml.Name
		Rects   []struct {
			Title string `xml:"title"`
		} `xml:"rect"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil || doc.XMLName.Local != "svg" {
		t.Fatalf("the SVG does not parse: %v\n%s", err, data)
	}
	if got := fmt.Sprint(len(doc.Rects)); got == "0" {
		t.Errorf("the SVG has no bars")
	}

	// The same facts for scripts: -o json (and yaml).
	var report struct {
		Application struct{ Ready string }
		Effective   v1alpha1.ApplicationEffective
		Tenant      struct {
			IssuerURL string
			Ready     string
		}
		APIs []struct {
			Audience string
			Ready    string
		}
		Replicas []struct{ Live bool }
		Live     struct {
			Issuer string
			KeyIDs []string
		}
	}
	if err := json.Unmarshal([]byte(run("explain", "application", "backoffice", "-n", ns, "-o", "json")), &report); err != nil {
		t.Fatalf("explain -o json does not parse: %v", err)
	}
	if report.Application.Ready != "True" || report.Effective.IDToken == nil || report.Effective.IDToken.Seconds != 47*60 ||
		report.Effective.IDToken.BoundBy != capped || report.Tenant.IssuerURL != issuer || len(report.APIs) != 1 ||
		report.APIs[0].Audience != "https://orders.acme.test" || len(report.Replicas) == 0 || !report.Replicas[0].Live ||
		report.Live.Issuer != issuer || len(report.Live.KeyIDs) == 0 {
		t.Errorf("explain -o json: %+v", report)
	}
	var events struct {
		LoginAt time.Time
		Events  []struct {
			What, After, BoundBy string
			At                   time.Time
		}
	}
	if err := yaml.Unmarshal([]byte(run("timeline", "application", "backoffice", "-n", ns, "-o", "yaml")), &events); err != nil {
		t.Fatalf("timeline -o yaml does not parse: %v", err)
	}
	found := false
	for _, e := range events.Events {
		if e.What == "ID token" {
			found = e.After == "47m0s" && e.At.Equal(login.Add(47*time.Minute)) && e.BoundBy == capped
		}
	}
	if !events.LoginAt.Equal(login) || !found {
		t.Errorf("timeline -o yaml: %+v", events)
	}

	// The Tenant's view: every Application and API attached to it, each
	// with its effective lifetimes.
	ofTenant := run("explain", "tenants.idtenant.dev", "acme", "-n", ns, "--live=false")
	for _, want := range []string{
		"Tenant " + ns + "/acme  Ready",
		"Applications  1",
		ns + "/backoffice (RegularWeb)  Ready",
		"ID token      47m    ← " + capped + " (configured 2h)",
		"access " + ns + "/orders Standard  47m    ← " + capped,
		"APIs  1",
		ns + "/orders  https://orders.acme.test  Ready",
		"standard flows  3h     ← API orders/spec.tokenLifetime",
	} {
		if !strings.Contains(ofTenant, want) {
			t.Errorf("explain tenant lacks %q; it printed:\n%s", want, ofTenant)
		}
	}
	// The API's view: who asks for its tokens and what they get.
	apiText := run("explain", "api", "orders", "-n", ns)
	for _, want := range []string{
		"API " + ns + "/orders  https://orders.acme.test  Ready",
		"Tenant " + ns + "/acme  " + issuer + "  Ready",
		"browser flows   20m    ← API orders/spec.tokenLifetimeForBrowserFlows",
		"Applications that ask for its tokens  1",
		ns + "/backoffice (RegularWeb)  Ready",
		"Standard access token  47m    ← " + capped + " (configured 3h)",
	} {
		if !strings.Contains(apiText, want) {
			t.Errorf("explain api lacks %q; it printed:\n%s", want, apiText)
		}
	}
	var ofAPI struct {
		API struct {
			Audience  string
			Effective v1alpha1.APIEffective
		}
		Applications []struct {
			Name         string
			AccessTokens []v1alpha1.EffectiveAccessToken
		}
	}
	if err := json.Unmarshal([]byte(run("explain", "idapi", "orders", "-n", ns, "-o", "json")), &ofAPI); err != nil {
		t.Fatalf("explain api -o json does not parse: %v", err)
	}
	if ofAPI.API.Audience != "https://orders.acme.test" || ofAPI.API.Effective.TokenLifetime.Seconds != 3*3600 || len(ofAPI.Applications) != 1 ||
		ofAPI.Applications[0].Name != "backoffice" || len(ofAPI.Applications[0].AccessTokens) == 0 ||
		ofAPI.Applications[0].AccessTokens[0].Lifetime.Seconds != 47*60 {
		t.Errorf("explain api -o json: %+v", ofAPI)
	}

	// Shell completion offers the kinds, then the names in the namespace.
	kinds := run("__complete", "explain", "")
	names := run("__complete", "explain", "application", "-n", ns, "")
	if !strings.Contains(kinds, "tenant\napplication\napi\n") || !strings.HasPrefix(names, "backoffice\n") {
		t.Errorf("completion: kinds %q, names %q", kinds, names)
	}
}

// TestCLIReadsTheKubeconfig runs the CLI as a person does: no client given,
// the cluster and user from a kubeconfig file (--kubeconfig), kubectl's
// flags, and a missing object reported by name.
func TestCLIReadsTheKubeconfig(t *testing.T) {
	t.Parallel()
	ns, _ := newTenant(t, nil)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, os.WriteFile(kubeconfig, adminKubeconfig, 0o600))
	var out, errOut bytes.Buffer
	err := cli.Run(context.Background(), []string{"explain", "tenant", "acme", "--kubeconfig", kubeconfig, "--namespace", ns, "--live=false", "-o", "yaml"}, &out, &errOut, cli.Options{})
	if err != nil {
		t.Fatalf("explain tenant through --kubeconfig: %v\n%s", err, errOut.String())
	}
	var report struct {
		Tenant struct{ Name, Namespace string }
	}
	must(t, yaml.Unmarshal(out.Bytes(), &report))
	if report.Tenant.Name != "acme" || report.Tenant.Namespace != ns {
		t.Errorf("explain tenant -o yaml through --kubeconfig: %s", out.String())
	}
	err = cli.Run(context.Background(), []string{"explain", "application", "nowhere", "--kubeconfig", kubeconfig, "-n", ns}, &out, &errOut, cli.Options{})
	if err == nil || !strings.Contains(err.Error(), "Application "+ns+"/nowhere") || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing Application: %v", err)
	}
}
