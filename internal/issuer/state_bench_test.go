package issuer

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	statev1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/controlplane"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/kube"
	"github.com/idtenant/idtenant/internal/issuer/store/memory"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres"
	"github.com/idtenant/idtenant/internal/issuer/store/postgres/pgtest"
)

// The state benchmarks compare the memory store with the Kubernetes store
// on a real kube-apiserver and etcd and the PostgreSQL store on a real
// server (each started once, on this machine, so the API server's or the
// database's CPU is part of the cost, as in a small cluster).

var (
	benchCPOnce sync.Once
	benchCP     *controlplane.ControlPlane
	benchCPErr  error
	benchNS     atomic.Int32
)

func benchControlPlane(b *testing.B) *controlplane.ControlPlane {
	benchCPOnce.Do(func() { benchCP, benchCPErr = controlplane.Start("") })
	if benchCPErr != nil {
		b.Skipf("no control plane: %v", benchCPErr)
	}
	return benchCP
}

func stopBenchControlPlane() {
	if benchCP != nil {
		_ = benchCP.Stop()
	}
	if benchPG != nil {
		benchPG.Stop()
	}
}

var (
	benchPGOnce sync.Once
	benchPG     *pgtest.Server
	benchPGErr  error
)

// benchPostgres is a PostgreSQL server on this machine with its durable
// defaults (fsync, synchronous commit), as a deployment runs it.
func benchPostgres(b *testing.B) *pgtest.Server {
	benchPGOnce.Do(func() {
		if u := os.Getenv(pgtest.EnvURL); u != "" {
			benchPG = &pgtest.Server{URL: u}
			return
		}
		benchPG, benchPGErr = pgtest.Start(filepath.Join(os.TempDir(), "idtenant-pg"), pgtest.Options{Durable: true})
	})
	if benchPGErr != nil {
		b.Skipf("no PostgreSQL: %v", benchPGErr)
	}
	return benchPG
}

// benchStores runs f against a memory store and a Kubernetes store (a
// fresh namespace each).
func benchStores(b *testing.B, f func(b *testing.B, st store.Store, count func() (objects, bytes int))) {
	b.Run("memory", func(b *testing.B) {
		mem := memory.New()
		f(b, mem, func() (int, int) { return total(mem.Len()), 0 })
	})
	b.Run("kubernetes", func(b *testing.B) {
		cp := benchControlPlane(b)
		cs := kubernetes.NewForConfigOrDie(cp.Config)
		ns := fmt.Sprintf("bench-%d", benchNS.Add(1))
		if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		st, err := kube.New(cp.Config, ns, "acme", types.UID("00000000-0000-0000-0000-000000000001"))
		if err != nil {
			b.Fatal(err)
		}
		dyn := dynamic.NewForConfigOrDie(cp.Config)
		f(b, st, func() (objects, size int) {
			for _, res := range []string{"sessions", "authorizationcodes", "refreshfamilies", "revokedtokens"} {
				list, err := dyn.Resource(statev1.GroupVersion.WithResource(res)).Namespace(ns).List(context.Background(), metav1.ListOptions{})
				if err != nil {
					b.Fatal(err)
				}
				for _, item := range list.Items {
					data, _ := json.Marshal(item.Object)
					objects, size = objects+1, size+len(data)
				}
			}
			return objects, size
		})
	})
	b.Run("postgresql", func(b *testing.B) {
		srv := benchPostgres(b)
		dbURL, err := srv.CreateDatabase(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = srv.DropDatabase(context.Background(), dbURL) }()
		cfg := postgres.Config{URL: dbURL, Schema: "idtenant_bench_acme", MaxConns: 10}
		if _, err := postgres.Migrate(context.Background(), cfg, "uid", "acme"); err != nil {
			b.Fatal(err)
		}
		st, err := postgres.Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		f(b, st, func() (objects, size int) {
			// The rows' bytes as stored (pg_column_size), without the
			// per-row and index overhead the fill benchmark measures.
			for _, table := range []string{"sessions", "authorization_codes", "refresh_families", "revoked_tokens", "consents"} {
				var n, bytes int
				if err := st.Pool().QueryRow(context.Background(), "SELECT count(*), coalesce(sum(pg_column_size(t.*)), 0) FROM "+table+" t").Scan(&n, &bytes); err != nil {
					b.Fatal(err)
				}
				objects, size = objects+n, size+bytes
			}
			return objects, size
		})
	})
}

// newBenchEnv serves the test tenant from st. With es256, the tenant and
// its APIs sign with ES256, so the figure is the state path's rather than
// RSA's (an RS256 signature costs ~1.4 ms of a core, two per refresh).
func newBenchEnv(b *testing.B, st store.Store, es256 bool) *env {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	doc := issuertest.Doc(b, "http://"+ln.Addr().String())
	if es256 {
		doc.Tenant.Spec.SigningAlgorithm = v1alpha1.ES256
		for i := range doc.APIs {
			doc.APIs[i].Spec.SigningAlgorithm = v1alpha1.ES256
		}
	}
	return startEnv(b, ln, doc, &fakeClock{now: time.Now().Truncate(time.Second)}, memory.New(), st)
}

// BenchmarkStateSSORoundTrip (ES256): authorize from an existing session (read
// session, write code), then the code exchange (read code, read session,
// redeem, create the refresh family) — the state path of every sign-in to
// a further application.
func BenchmarkStateSSORoundTrip(b *testing.B) {
	benchStores(b, func(b *testing.B, st store.Store, count func() (int, int)) {
		e := newBenchEnv(b, st, true)
		br := e.browser()
		cfg := e.oauth2Config("web.shop", webCB, "openid", "read:orders")
		rounds := 0
		round := func() {
			if rounds++; rounds%50 == 0 {
				e.clock.Advance(time.Minute) // within the session's codes a minute
			}
			v := oauth2.GenerateVerifier()
			resp, body := br.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("audience", "https://orders.acme.test")), "alice", "correct horse")
			u, _ := url.Parse(resp.Header.Get("Location"))
			if u.Query().Get("code") == "" {
				b.Fatalf("no code: %d %s", resp.StatusCode, body)
			}
			if _, err := cfg.Exchange(e.ctx, u.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
				b.Fatal(err)
			}
		}
		round()
		b.ResetTimer()
		for range b.N {
			round()
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/roundtrip")
	})
}

// BenchmarkStateRefresh: refresh grants per second, rotating, from 8
// concurrent clients each holding its own session-bound family (read the
// family, read the session, rotate the family by a conditional update).
// It also reports what one active user costs the store: the objects and
// their bytes left by one login with one code exchange.
func BenchmarkStateRefresh(b *testing.B) {
	for _, alg := range []string{"ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) { benchRefresh(b, alg == "ES256") })
	}
}

func benchRefresh(b *testing.B, es256 bool) {
	const clients = 8
	benchStores(b, func(b *testing.B, st store.Store, count func() (int, int)) {
		e := newBenchEnv(b, st, es256)
		web, secret := "web.shop", issuertest.Secrets["web.shop"]
		tokens := make([]string, clients)
		for i := range tokens {
			br := e.browser()
			br.client.Jar, _ = cookiejar.New(nil)
			code, verifier := e.codeFor(br, web, webCB, "openid", "read:orders")
			status, tok := e.postForm(PathToken, redeemForm(code, verifier, webCB), web, secret)
			if status != http.StatusOK {
				b.Fatalf("exchange: %d %v", status, tok)
			}
			tokens[i] = tok["refresh_token"].(string)
		}
		objects, size := count()
		b.ResetTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rt := tokens[i]
				form := url.Values{"grant_type": {"refresh_token"}}
				for next.Add(1) <= int64(b.N) {
					form.Set("refresh_token", rt)
					status, body := e.postForm(PathToken, form, web, secret)
					if status != http.StatusOK {
						b.Errorf("refresh: %d %v", status, body)
						return
					}
					rt = body["refresh_token"].(string)
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "refresh/s")
		b.ReportMetric(float64(objects)/clients, "objects/session")
		if size > 0 {
			b.ReportMetric(float64(size)/clients, "bytes/session")
		}
	})
}
