package render

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

const aliceHash = "$2a$10$1Uhiau72Caah0gSrQWrNmO.8dvcKXOZNH3Fq9lROb4S26Z08V2RVy"

func clientID(a *v1alpha1.Application) string { return a.Name + "." + a.Namespace }

func tenant() *v1alpha1.Tenant {
	return &v1alpha1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "identity"},
		Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example"}}
}

// inputs builds a tenant with n Applications and m APIs that look like a real
// company's: distinct names, two redirect URIs, a few scopes, a secret digest.
func inputs(n, m int) ConfigInputs {
	in := ConfigInputs{Tenant: tenant(), SecretDigests: map[string]string{},
		Users: []issuerconfig.User{{Username: "alice@acme.test", PasswordHash: aliceHash}}}
	for j := 0; j < m; j++ {
		in.APIs = append(in.APIs, &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("api-%03d", j), Namespace: "apis"},
			Spec: v1alpha1.APISpec{Audience: fmt.Sprintf("https://api-%03d.acme.example", j),
				Scopes:        []v1alpha1.APIScope{{Name: "read", Description: "Read things."}, {Name: "write", Description: "Write things."}},
				TokenLifetime: &metav1.Duration{Duration: time.Hour}}})
	}
	for i := 0; i < n; i++ {
		app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%04d-web", i), Namespace: fmt.Sprintf("team-%03d", i%300)},
			Spec: v1alpha1.ApplicationSpec{Type: v1alpha1.RegularWeb,
				RedirectURIs: []v1alpha1.RedirectURI{
					v1alpha1.RedirectURI(fmt.Sprintf("https://app-%04d.acme.example/oauth/callback", i)),
					v1alpha1.RedirectURI(fmt.Sprintf("https://app-%04d.staging.acme.example/oauth/callback", i)),
				},
				APIs: []v1alpha1.APIAccess{
					{Name: fmt.Sprintf("api-%03d", i%m), Namespace: "apis", Scopes: []v1alpha1.ScopeName{"read"}},
					{Name: fmt.Sprintf("api-%03d", (i+7)%m), Namespace: "apis", Scopes: []v1alpha1.ScopeName{"read", "write"}},
				},
				IDTokenLifetime: &metav1.Duration{Duration: 2 * time.Hour}}}
		in.Applications = append(in.Applications, app)
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		sum := sha256.Sum256(secret)
		in.SecretDigests[clientID(app)] = hex.EncodeToString(sum[:])
	}
	return in
}

func TestConfigDocumentIsDeterministicAndSorted(t *testing.T) {
	in := inputs(20, 5)
	a := ConfigDocument(in, 7, clientID)
	// Same inputs in another order: same document.
	for i, j := 0, len(in.Applications)-1; i < j; i, j = i+1, j-1 {
		in.Applications[i], in.Applications[j] = in.Applications[j], in.Applications[i]
	}
	b := ConfigDocument(in, 7, clientID)
	sa, _ := issuerconfig.Secrets("acme", "identity", a)
	sb, _ := issuerconfig.Secrets("acme", "identity", b)
	if string(sa[0].Data[issuerconfig.DataKey]) != string(sb[0].Data[issuerconfig.DataKey]) {
		t.Error("reordered inputs changed the rendered config: every reconcile would write a new generation")
	}
	for i := 1; i < len(a.Applications); i++ {
		if a.Applications[i-1].Ref() >= a.Applications[i].Ref() {
			t.Fatalf("applications not sorted at %d", i)
		}
	}
	if a.Generation != 7 || a.APIVersion != issuerconfig.APIVersion || a.Applications[0].SecretSHA256 == "" {
		t.Errorf("document header or digest missing: gen %d, version %q", a.Generation, a.APIVersion)
	}
	if err := a.Validate(); err != nil {
		t.Errorf("rendered document does not validate: %v", err)
	}
}

// TestLargeTenantFits renders the tenant size the issue names (5000
// Applications, 200 APIs) and checks every Secret stays under the API
// server's 1 MiB limit and the document round-trips.
func TestLargeTenantFits(t *testing.T) {
	for _, n := range []int{1000, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			doc := ConfigDocument(inputs(n, 200), 3, clientID)
			secrets, err := issuerconfig.Secrets("acme", "identity", doc)
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, s := range secrets {
				size := 0
				for k, v := range s.Data {
					size += len(k) + len(v)
				}
				total += size
				if size > 1<<20-32<<10 {
					t.Errorf("Secret %s holds %d bytes, too close to the 1 MiB limit", s.Name, size)
				}
			}
			t.Logf("%d applications: %d Secret(s), %d KiB compressed", n, len(secrets), total>>10)
			got, err := issuerconfig.ReadSecrets(secrets[0], byName(secrets))
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Applications) != n || len(got.APIs) != 200 || got.Generation != 3 {
				t.Errorf("round trip lost data: %d apps, %d apis, gen %d", len(got.Applications), len(got.APIs), got.Generation)
			}
		})
	}
}

func byName(secrets []*corev1.Secret) func(string) (*corev1.Secret, error) {
	return func(name string) (*corev1.Secret, error) {
		for _, s := range secrets {
			if s.Name == name {
				return s, nil
			}
		}
		return nil, fmt.Errorf("secret %s not found", name)
	}
}

// cost5Hash is what `htpasswd -nbB carol secret` writes (cost 5).
const cost5Hash = "$2y$05$Q6JybEr6yzDS8EBPjCqKTOtcRPFZyqbMZh6TyKtn6ZJXjTdK0PfLm"

func TestParseHtpasswd(t *testing.T) {
	good := "# staff\nalice@acme.test:" + aliceHash + "\n\nbob:" + strings.Replace(aliceHash, "$2a$", "$2y$", 1) + "\n"
	users, err := ParseHtpasswd([]byte(good))
	if err != nil || len(users) != 2 || users[1].Username != "bob" {
		t.Fatalf("users = %+v, %v", users, err)
	}
	for name, c := range map[string]struct{ in, want string }{
		"md5-crypt":      {"carol:$apr1$abc$def", `line 1 (user "carol"): only bcrypt hashes are accepted`},
		"plain":          {"carol:secret", "only bcrypt"},
		"no colon":       {"carol", "line 1: want username:bcrypt-hash"},
		"empty name":     {":" + aliceHash, "line 1: want username:bcrypt-hash"},
		"duplicate user": {"a:" + aliceHash + "\na:" + aliceHash, `line 2: user "a" already defined on line 1`},
		// htpasswd -nbB writes cost 5: refused, naming the line and user.
		"cheap hash": {"ok:" + aliceHash + "\ncarol:" + cost5Hash, `htpasswd line 2 (user "carol"): bcrypt cost 5 is below the minimum 10`},
	} {
		_, err := ParseHtpasswd([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "$2y$05$") {
			t.Errorf("%s: error echoes the hash: %v", name, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") && name == "plain" {
			t.Errorf("%s: error echoes the password: %v", name, err)
		}
	}
}

// The issuer needs the Tenant's UID (owner of its state records) and the
// state key (record names, sealed login requests) from the document, and
// both survive the trip through the config Secrets.
func TestConfigDocumentCarriesStateKeyAndTenantUID(t *testing.T) {
	in := inputs(1, 1)
	in.Tenant.UID = "6a1f0c2e-2b8e-4a5e-9d0c-6d9a4f1f7c11"
	in.StateKey = make([]byte, issuerconfig.StateKeySize)
	_, _ = rand.Read(in.StateKey)
	doc := ConfigDocument(in, 1, clientID)
	in.StateKey[0] ^= 0xff // the document holds its own copy
	secrets, err := issuerconfig.Secrets("acme", "identity", doc)
	if err != nil {
		t.Fatal(err)
	}
	got, err := issuerconfig.ReadSecrets(secrets[0], byName(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if got.TenantUID != in.Tenant.UID {
		t.Errorf("tenantUID = %q, want %q", got.TenantUID, in.Tenant.UID)
	}
	if len(got.StateKey) != issuerconfig.StateKeySize || got.StateKey[0] == in.StateKey[0] {
		t.Errorf("stateKey did not round-trip as rendered (%d bytes)", len(got.StateKey))
	}
}
