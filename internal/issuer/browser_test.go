package issuer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// chromium finds a Chromium to drive. CI sets IDTENANT_REQUIRE_BROWSER so
// a missing browser fails there instead of skipping.
func chromium(t *testing.T) string {
	for _, name := range []string{os.Getenv("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("IDTENANT_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium found (apt-get install chromium), and IDTENANT_REQUIRE_BROWSER is set")
	}
	t.Skip("no Chromium found: apt-get install chromium")
	return ""
}

// TestLoginPageInABrowser drives the login page in a real headless
// Chromium, keyboard only: what the user is told they sign in to (escaped
// display names), a wrong password, the CSRF token, cookie flags, that no
// other site can frame the page, and a successful sign-in back to the
// application. It saves a screenshot (docs/login-page.png with
// UPDATE_SCREENSHOT=1).
func TestLoginPageInABrowser(t *testing.T) {
	bin := chromium(t)
	e := newEnv(t, func(d *issuerconfig.Document) {
		d.Tenant.Spec.DisplayName = "Acme & Co"
		// A connection shows as a button under the password form.
		d.Tenant.Spec.Connections = []v1alpha1.Connection{{Name: "corp", DisplayName: "Corp SSO <staff>",
			OIDC: v1alpha1.OIDCConnection{IssuerURL: "https://login.corp.example", ClientID: "idtenant"}}}
		for i := range d.Applications {
			if d.Applications[i].ClientID == "native.shop" {
				d.Applications[i].Spec.DisplayName = "Acme Mobile <beta>"
			}
		}
	})
	e.clock.now = time.Now().Truncate(time.Second) // the browser's cookies expire in real time

	// The application: a loopback redirect target (native apps may use any
	// port) that records what the issuer sends back, and a page of its own
	// that tries to frame the login page.
	var (
		mu       sync.Mutex
		callback url.Values
	)
	loginURL := make(chan string, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cb":
			mu.Lock()
			callback = r.URL.Query()
			mu.Unlock()
			_, _ = w.Write([]byte("<!DOCTYPE html><title>back at the app</title><p id=done>done</p>"))
		case "/frame":
			u := <-loginURL
			loginURL <- u
			_, _ = w.Write([]byte(`<!DOCTYPE html><title>framer</title><iframe id="f" src="` + u + `" width="400" height="400"></iframe>`))
		}
	}))
	defer app.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(480, 640))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	verifier := oauth2.GenerateVerifier()
	cfg := e.oauth2Config("native.shop", app.URL+"/cb", "openid")
	check := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(id string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		check("text of #"+id, err)
		return v
	}
	focused := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
		check("focused element", err)
		return v
	}
	cookies := func(u string) []*network.Cookie {
		t.Helper()
		res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{u}})
		check("cookies", err)
		return res.Cookies
	}
	check("open the application's sign-in", chromedp.Do(ctx,
		chromedp.Navigate(cfg.AuthCodeURL("st4te", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.ID("username"))))
	if got, want := text("signing-in-to"), "to continue to Acme Mobile <beta> with your Acme & Co account"; got != want {
		t.Errorf("the page says %q, want %q (display names shown as typed, never as HTML)", got, want)
	}
	button, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("a.connection")))
	check("connection button", err)
	if button != "Continue with Corp SSO <staff>" {
		t.Errorf("the connection's button says %q (display name shown as typed)", button)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Title()); title != "Sign in to Acme Mobile <beta>" {
		t.Errorf("title %q", title)
	}
	if f := focused(); f != "username" {
		t.Errorf("focus starts on %q, want username", f)
	}
	here, err := chromedp.Run(ctx, chromedp.Location())
	check("location", err)
	loginURL <- here

	// Keyboard only: type, Tab, type, Enter — a wrong password.
	check("wrong password", chromedp.Do(ctx,
		chromedp.KeyEvent("alice"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent("wrong"), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("login-error"))))
	invalid, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("password"), "aria-invalid"))
	check("aria-invalid", err)
	if msg, f := text("login-error"), focused(); !strings.Contains(msg, "Wrong username or password") || invalid.Value != "true" || f != "password" {
		t.Errorf("after a wrong password: error %q, aria-invalid %q, focus on %q (want the error, aria-invalid, focus on password)", msg, invalid.Value, f)
	}
	// The CSRF cookie: HttpOnly, SameSite=Strict.
	if c := findCookie(cookies(e.issuer+pathLogin), csrfCookie); c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict {
		t.Errorf("CSRF cookie: %+v, want HttpOnly and SameSite=Strict", c)
	}

	// A form whose CSRF token does not match is refused.
	check("tampered CSRF token", chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`input[name="csrf"]`), "forged"),
		chromedp.SetValue(chromedp.ID("password"), "correct horse"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("login-error"))))
	if msg := text("login-error"); !strings.Contains(msg, "not submitted from this page") {
		t.Errorf("tampered CSRF token: %q", msg)
	}

	// Another site cannot frame the login page (X-Frame-Options and CSP
	// frame-ancestors): the frame never shows the form.
	check("framing page", chromedp.Do(ctx, chromedp.Navigate(app.URL+"/frame"), chromedp.Sleep(time.Second)))
	tree, err := chromedp.Call(ctx, page.GetFrameTree, cdp.Empty{})
	check("frame tree", err)
	if len(tree.FrameTree.ChildFrames) != 1 {
		t.Fatalf("framing page has %d frames", len(tree.FrameTree.ChildFrames))
	}
	if child := tree.FrameTree.ChildFrames[0].Frame; strings.HasPrefix(child.URL, e.issuer) && child.UnreachableURL == "" {
		t.Errorf("the login page loaded inside another site's frame: %+v", child)
	}

	// Sign in for real, keyboard only, from a fresh login page.
	check("fresh login page", chromedp.Do(ctx, chromedp.Navigate(here), chromedp.WaitVisible(chromedp.ID("username"))))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	check("screenshot", err)
	check("sign in", chromedp.Do(ctx,
		chromedp.KeyEvent("alice"), chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent("correct horse"), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.ID("done"))))
	mu.Lock()
	cb := callback
	mu.Unlock()
	if cb.Get("code") == "" || cb.Get("state") != "st4te" || cb.Get("iss") != e.issuer {
		t.Errorf("the application received %v, want a code, its state and iss", cb)
	}
	if c := findCookie(cookies(e.issuer+"/"), sessionCookie); c == nil || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
		t.Errorf("session cookie: %+v, want HttpOnly, SameSite=Lax", c)
	}
	out := filepath.Join(t.TempDir(), "login-page.png")
	if os.Getenv("UPDATE_SCREENSHOT") != "" {
		out = filepath.Join("..", "..", "docs", "login-page.png")
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}
}

func findCookie(cs []*network.Cookie, name string) *network.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}
