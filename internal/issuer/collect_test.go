package issuer

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectEndsIdleSessionsAndDropsExpiredRecords(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.loginFlow(e.browser(), "web.shop", "https://web.acme.test/cb"); err != nil {
		t.Fatal(err)
	}
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid")
	e.browser().get(cfg.AuthCodeURL("s")) // a sign-in left at the login page
	before := e.store.Len()
	if before["sessions"] != 1 || before["pending"] != 1 || before["refresh"] != 1 {
		t.Fatalf("records before: %v", before)
	}
	e.clock.Advance(time.Hour) // the 1h inactivity timeout; the login page's 10m too
	e.srv.collect(e.ctx)
	after := e.store.Len()
	if after["sessions"] != 0 || after["pending"] != 0 {
		t.Errorf("records after collection: %v", after)
	}
	if got := testutil.ToFloat64(e.srv.metrics.sessionsEnd.WithLabelValues("Inactivity")); got != 1 {
		t.Errorf("sessions ended by Inactivity = %v, want 1", got)
	}
}
