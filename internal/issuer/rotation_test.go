package issuer

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

func TestKeyRotationOverlaps(t *testing.T) {
	e := newEnv(t, nil)
	token := func() string {
		status, body := e.tokenPost(url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}, "m2m.shop", issuertest.Secrets["m2m.shop"])
		if status != http.StatusOK {
			t.Fatalf("token: %d %v", status, body)
		}
		return body["access_token"].(string)
	}
	kid := func(tok string) any { h, _ := jwtParts(t, tok); return h["kid"] }
	active := func(tok string) any {
		_, body := e.form(pathIntrospect, url.Values{"token": {tok}}, "web.shop", issuertest.Secrets["web.shop"])
		return body["active"]
	}
	old := token()
	if kid(old) != "rsa-1" {
		t.Fatalf("kid = %v", kid(old))
	}
	// rsa-2 (published as next) becomes active; rsa-1 retires.
	next := issuertest.Doc(t, e.issuer)
	next.Generation = 2
	next.Keys[0].Role, next.Keys[1].Role = issuerconfig.KeyRetiring, issuerconfig.KeyActive
	if err := e.srv.Swap(next); err != nil {
		t.Fatal(err)
	}
	if got := kid(token()); got != "rsa-2" {
		t.Errorf("new tokens signed by %v, want rsa-2", got)
	}
	e.verifyAccess(old, "https://orders.acme.test") // still in the JWKS
	if active(old) != true {
		t.Error("a token signed by the retiring key is no longer active")
	}
	// Once the retiring key is removed, its tokens no longer verify here.
	gone := issuertest.Doc(t, e.issuer)
	gone.Generation = 3
	gone.Keys = gone.Keys[1:]
	gone.Keys[0].Role = issuerconfig.KeyActive
	if err := e.srv.Swap(gone); err != nil {
		t.Fatal(err)
	}
	if active(old) != false {
		t.Error("a token of a removed key is still active")
	}
}
