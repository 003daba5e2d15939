package issuer

import (
	"net/http"
	"testing"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// TestApplicationAssignment (security review N8): an Application with
// allowedGroups signs in only users of those groups. Anyone else, even
// with a session, is sent back with access_denied — so an admitted
// application cannot silently (prompt=none) collect every signed-in
// user's profile — and a user taken out of the groups loses the refresh
// tokens they had.
func TestApplicationAssignment(t *testing.T) {
	assign := func(groups ...string) func(*issuerconfig.Document) {
		return func(d *issuerconfig.Document) {
			directoryDoc(d) // alice: staff, finance
			for i := range d.Applications {
				if d.Applications[i].ClientID == "web.shop" {
					d.Applications[i].Spec.AllowedGroups = groups
				}
			}
		}
	}
	e := newEnv(t, assign("admins"))
	b := e.browser()
	cfg := e.oauth2Config("web.shop", webCB, "openid", "email")
	resp, body := b.authorize(cfg.AuthCodeURL("st"), "alice", "correct horse")
	if cb := callback(t, resp, body); cb.Get("error") != "access_denied" || cb.Get("code") != "" {
		t.Fatalf("alice (staff, finance) at an application for admins: %v", cb)
	}
	resp, body = b.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("prompt", "none")))
	if cb := callback(t, resp, body); cb.Get("error") != "access_denied" {
		t.Fatalf("silent sign-in of a signed-in user not assigned: %v", cb)
	}

	e = newEnv(t, assign("admins", "finance"))
	tok, err := e.loginFlow(e.browser(), "web.shop", webCB)
	if err != nil {
		t.Fatalf("alice (finance) at an application for admins and finance: %v", err)
	}
	doc := *e.doc
	assign("admins")(&doc)
	doc.Generation++
	if err := e.srv.Swap(&doc); err != nil {
		t.Fatal(err)
	}
	if status, body := e.refresh("web.shop", tok.RefreshToken); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("refresh after finance was taken off the application: %d %v", status, body)
	}
}
