package issuer

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

func total(m map[store.Kind]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func TestCollectEndsIdleSessionsAndDropsExpiredRecords(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := e.loginFlow(e.browser(), "web.shop", "https://web.acme.test/cb"); err != nil {
		t.Fatal(err)
	}
	cfg := e.oauth2Config("web.shop", "https://web.acme.test/cb", "openid")
	e.browser().get(cfg.AuthCodeURL("s")) // a sign-in left at the login page
	before := e.store.Len()
	// The sign-in left at the login page stores nothing: it is sealed in
	// the page.
	if before[store.KindSession] != 1 || before[store.KindCode] != 1 || before[store.KindFamily] != 1 || total(before) != 3 {
		t.Fatalf("records before: %v", before)
	}
	e.clock.Advance(time.Hour) // the 1h inactivity timeout; the code's minute too
	e.srv.Collect()
	after := e.store.Len()
	if after[store.KindSession] != 0 || after[store.KindCode] != 0 {
		t.Errorf("records after collection: %v", after)
	}
	if got := testutil.ToFloat64(e.srv.metrics.sessionsEnd.WithLabelValues("Inactivity")); got != 1 {
		t.Errorf("sessions ended by Inactivity = %v, want 1", got)
	}
}
