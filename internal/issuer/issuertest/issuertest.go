// Package issuertest holds the issuer's test fixtures: one configuration
// document (a Tenant, two APIs, one Application of each type, a user,
// signing keys) and its client secrets, for the issuer's own tests and for
// those of the packages around it (internal/issuer/command) that run it.
package issuertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

var (
	keysOnce sync.Once
	// RSAPEM, RSANextPEM and ECPEM are the private keys of the test
	// document (PKCS#8 PEM): an active and a next RS256 key, an active
	// ES256 key. PasswordHash is alice's bcrypt hash of "correct horse".
	RSAPEM, RSANextPEM, ECPEM string
	PasswordHash              []byte
	// Secrets are the client secrets of the test document's confidential
	// clients, by client ID.
	Secrets = map[string]string{}
)

func pkcs8(t testing.TB, key any) string {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// Keys generates the test keys once per process.
func Keys(t testing.TB) {
	keysOnce.Do(func() {
		r1, _ := rsa.GenerateKey(rand.Reader, 2048)
		r2, _ := rsa.GenerateKey(rand.Reader, 2048)
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		RSAPEM, RSANextPEM, ECPEM = pkcs8(t, r1), pkcs8(t, r2), pkcs8(t, ec)
		PasswordHash, _ = bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	})
}

// Dur parses a Go duration for a spec field; it panics on a typo.
func Dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

// SecretFor is the client secret of clientID in test documents, and its
// digest as the document carries it.
func SecretFor(clientID string) (secret, digestHex string) {
	secret = base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%-32s", "secret-of-"+clientID)))
	sum := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(sum[:])
}

// Doc is a tenant with a session of 1h idle / 8h absolute, two APIs
// (orders RS256 3h/30m, payments ES256 1h/15m) and one application of
// each type.
func Doc(t testing.TB, issuer string) *issuerconfig.Document {
	Keys(t)
	tenantRef := v1alpha1.TenantReference{Name: "acme"}
	app := func(name string, typ v1alpha1.ApplicationType, mutate func(*v1alpha1.ApplicationSpec)) issuerconfig.Application {
		a := issuerconfig.Application{ClientID: name + ".shop"}
		a.Name, a.Namespace = name, "shop"
		a.Spec = v1alpha1.ApplicationSpec{TenantRef: tenantRef, Type: typ,
			APIs: []v1alpha1.APIAccess{{Name: "orders", Scopes: []v1alpha1.ScopeName{"read:orders"}}}}
		if typ == v1alpha1.RegularWeb || typ == v1alpha1.MachineToMachine {
			var digest string
			Secrets[a.ClientID], digest = SecretFor(a.ClientID)
			a.SecretSHA256 = digest
		}
		if mutate != nil {
			mutate(&a.Spec)
		}
		return a
	}
	api := func(name, aud string, mutate func(*v1alpha1.APISpec)) issuerconfig.Object[v1alpha1.APISpec] {
		o := issuerconfig.Object[v1alpha1.APISpec]{Name: name, Namespace: "shop", Spec: v1alpha1.APISpec{
			TenantRef: tenantRef, Audience: aud,
			Scopes: []v1alpha1.APIScope{{Name: v1alpha1.ScopeName("read:" + name)}, {Name: v1alpha1.ScopeName("write:" + name)}},
		}}
		mutate(&o.Spec)
		return o
	}
	doc := &issuerconfig.Document{
		APIVersion: issuerconfig.APIVersion,
		Generation: 1,
		Tenant: issuerconfig.Object[v1alpha1.TenantSpec]{Name: "acme", Namespace: "id", Spec: v1alpha1.TenantSpec{
			IssuerURL: issuer,
			Session:   &v1alpha1.SessionSpec{InactivityTimeout: Dur("1h"), AbsoluteTimeout: Dur("8h")},
		}},
		APIs: []issuerconfig.Object[v1alpha1.APISpec]{
			api("orders", "https://orders.acme.test", func(s *v1alpha1.APISpec) {
				s.TokenLifetime, s.TokenLifetimeForBrowserFlows = Dur("3h"), Dur("30m")
			}),
			api("payments", "https://payments.acme.test", func(s *v1alpha1.APISpec) {
				s.TokenLifetime, s.TokenLifetimeForBrowserFlows = Dur("1h"), Dur("15m")
				s.SigningAlgorithm = v1alpha1.ES256
			}),
		},
		Applications: []issuerconfig.Application{
			app("spa", v1alpha1.SinglePage, func(s *v1alpha1.ApplicationSpec) {
				s.RedirectURIs = []v1alpha1.RedirectURI{"https://spa.acme.test/cb"}
				s.AllowedOrigins = []v1alpha1.Origin{"https://spa.acme.test"}
				s.IDTokenLifetime = Dur("20m")
			}),
			app("web", v1alpha1.RegularWeb, func(s *v1alpha1.ApplicationSpec) {
				s.RedirectURIs = []v1alpha1.RedirectURI{"https://web.acme.test/cb"}
				s.PostLogoutRedirectURIs = []v1alpha1.RedirectURI{"https://web.acme.test/bye"}
				s.ResponseTypes = []v1alpha1.ResponseType{"code", "id_token token", "code id_token", "code id_token token"}
				s.IDTokenLifetime = Dur("45m")
				s.RefreshToken = &v1alpha1.RefreshTokenSpec{InactivityLifetime: Dur("24h"), AbsoluteLifetime: Dur("72h"),
					ReuseInterval: Dur("10s"), AllowOfflineAccess: true}
			}),
			app("native", v1alpha1.Native, func(s *v1alpha1.ApplicationSpec) {
				s.RedirectURIs = []v1alpha1.RedirectURI{"com.acme.app:/cb", "http://127.0.0.1/cb"}
			}),
			app("m2m", v1alpha1.MachineToMachine, func(s *v1alpha1.ApplicationSpec) {
				s.APIs = append(s.APIs, v1alpha1.APIAccess{Name: "payments", Scopes: []v1alpha1.ScopeName{"read:payments", "write:payments"}})
			}),
		},
		Users: []issuerconfig.User{{Username: "alice", PasswordHash: string(PasswordHash)}},
		// Replicas of one tenant share its state key.
		StateKey: []byte("0123456789abcdef0123456789abcdef"),
		Keys: []issuerconfig.Key{
			{ID: "rsa-1", Algorithm: v1alpha1.RS256, Role: issuerconfig.KeyActive, PrivateKeyPEM: RSAPEM},
			{ID: "rsa-2", Algorithm: v1alpha1.RS256, Role: issuerconfig.KeyNext, PrivateKeyPEM: RSANextPEM},
			{ID: "ec-1", Algorithm: v1alpha1.ES256, Role: issuerconfig.KeyActive, PrivateKeyPEM: ECPEM},
		},
	}
	// Round-trip through the document's own parser, as the command does.
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := issuerconfig.Parse(data)
	if err != nil {
		t.Fatalf("test document does not parse: %v", err)
	}
	return parsed
}

// InvalidDocs are configuration documents the issuer must refuse, by what
// is wrong with them.
var InvalidDocs = map[string]string{
	"not JSON":      "{apiVersion: nope",
	"unknown field": `{"apiVersion":"issuer.idtenant.dev/v1","tenant":{"name":"a","namespace":"b","spec":{"issuerURL":"https://x"}},"bogus":1}`,
	"wrong version": `{"apiVersion":"v0","tenant":{"name":"a","namespace":"b","spec":{"issuerURL":"https://x"}}}`,
	"no keys":       `{"apiVersion":"issuer.idtenant.dev/v1","tenant":{"name":"a","namespace":"b","spec":{"issuerURL":"https://x"}}}`,
}
