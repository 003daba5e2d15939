package issuer

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	signing "github.com/idtenant/idtenant/internal/issuer/signing"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// publicPEM is the PKIX public half of a PKCS#8 private key PEM, as the
// operator keeps it for a retired key.
func publicPEM(t *testing.T, privatePEM string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(privatePEM))
	priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(priv.(crypto.Signer).Public())
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// TestRetiredKeyWithoutPrivateHalf: the operator renders a retired key with
// its public half only. The issuer still publishes it and still verifies the
// tokens it signed (introspection), and never signs with it.
func TestRetiredKeyWithoutPrivateHalf(t *testing.T) {
	e := newEnv(t, nil)
	token := func() string {
		status, body := e.tokenPost(url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}, "m2m.shop", issuertest.Secrets["m2m.shop"])
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, body)
		}
		return body["access_token"].(string)
	}
	old := token()
	next := issuertest.Doc(t, e.issuer)
	next.Generation = 2
	next.Keys[0] = issuerconfig.Key{ID: "rsa-1", Algorithm: v1alpha1.RS256, Role: issuerconfig.KeyRetiring, PublicKeyPEM: publicPEM(t, issuertest.RSAPEM)}
	next.Keys[1].Role = issuerconfig.KeyActive
	data, err := json.Marshal(next)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), strings.TrimSpace(strings.Split(issuertest.RSAPEM, "\n")[1])) {
		t.Fatal("the retired key's private half is in the document")
	}
	parsed, err := issuerconfig.Parse(data)
	if err != nil {
		t.Fatalf("a public-only retired key does not parse: %v", err)
	}
	if err := e.srv.Swap(parsed); err != nil {
		t.Fatalf("a public-only retired key is refused: %v", err)
	}
	if h, _ := jwtParts(t, token()); h["kid"] != "rsa-2" {
		t.Errorf("new tokens signed by %v, want rsa-2", h["kid"])
	}
	e.verifyAccess(old, "https://orders.acme.test") // rsa-1 still in the JWKS
	_, body := e.form(pathIntrospect, url.Values{"token": {old}}, "web.shop", issuertest.Secrets["web.shop"])
	if body["active"] != true {
		t.Errorf("a token signed by the retired key is no longer active: %v", body)
	}
}

// TestSigningKeyNeedsPrivateHalf: an active or next key without its private
// half is refused, and the previous generation stays in force.
func TestSigningKeyNeedsPrivateHalf(t *testing.T) {
	for _, role := range []issuerconfig.KeyRole{issuerconfig.KeyActive, issuerconfig.KeyNext} {
		doc := issuertest.Doc(t, "https://id.acme.test")
		doc.Keys[1] = issuerconfig.Key{ID: "rsa-2", Algorithm: v1alpha1.RS256, Role: role, PublicKeyPEM: publicPEM(t, issuertest.RSANextPEM)}
		if role == issuerconfig.KeyActive {
			doc.Keys[0].Role = issuerconfig.KeyRetiring
		}
		if err := doc.Validate(); err == nil || !strings.Contains(err.Error(), "privateKeyPEM") {
			t.Errorf("%s key without private half: Validate() = %v", role, err)
		}
		if _, err := signing.CompileKeys(doc.Keys); err == nil {
			t.Errorf("%s key without private half compiled", role)
		}
	}
}
