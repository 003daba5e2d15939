package issuer

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
)

// busySessions is a store whose session writes all lose, while busy, as
// they would to other replicas' writes.
type busySessions struct {
	store.Store
	busy *atomic.Bool
}

type busySessionTable struct {
	store.Table[store.Session]
	busy *atomic.Bool
}

func (b busySessions) Sessions() store.Table[store.Session] {
	return busySessionTable{b.Store.Sessions(), b.busy}
}

func (t busySessionTable) Update(ctx context.Context, r store.Record[store.Session]) (store.Record[store.Session], error) {
	if t.busy.Load() {
		return store.Record[store.Session]{}, store.ErrConflict
	}
	return t.Table.Update(ctx, r)
}

// TestBindingToABusySessionIsCounted (review of N1): when a session keeps
// changing so that its new refresh family cannot be recorded on it, the
// exchange still succeeds (the family ends with the session at every use)
// and the miss is logged and counted, not silent.
func TestBindingToABusySessionIsCounted(t *testing.T) {
	var busy atomic.Bool
	e := newEnvOver(t, nil, func(mem *memory.Store) store.Store { return busySessions{mem, &busy} })
	code, verifier := e.codeFor(e.browser(), "web.shop", webCB, "openid", "read:orders")
	busy.Store(true)
	status, body := e.postForm(PathToken, redeemForm(code, verifier, webCB), "web.shop", issuertest.Secrets["web.shop"])
	if status != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("exchange while the session is busy: %d %v", status, body)
	}
	if got := testutil.ToFloat64(e.srv.metrics.unboundFamilies); got != 1 {
		t.Errorf("unbound families counted: %v, want 1", got)
	}
}
