package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// BenchmarkApplyToServed measures what a platform team waits for, over 50
// changes of an API's tokenLifetime written to the API server: until the
// first token carrying the new value (apply -> served), and until the API
// and the Application that calls it both say so in status, Ready at their
// current generation (apply -> status). Both are measured in the same
// change: the token endpoint is asked every 5 ms (one request, credentials
// read once), status is followed through watches (no polling load on the
// API server, which shares the two cores). Run with -benchtime=1x (make
// bench does).
func BenchmarkApplyToServed(b *testing.B) {
	s := newShop(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	status := watchStatus(ctx, b, s)
	token := tokenProbe(b, s, s.bills.Spec.Audience)
	const changes = 50
	var served, shown []time.Duration
	for i := 0; i < changes; i++ {
		want := int64(3600 + 60*(i+1))
		api := &v1alpha1.API{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(s.bills), api); err != nil {
			b.Fatal(err)
		}
		before := api.DeepCopy()
		api.Spec.TokenLifetime = &metav1.Duration{Duration: time.Duration(want) * time.Second}
		start := time.Now()
		if err := k8s.Patch(ctx, api, client.MergeFrom(before)); err != nil {
			b.Fatal(err)
		}
		tokenDone := untilTokenCarries(token, want, start)
		statusAt := time.Duration(-1)
		if at := status.until(want, start.Add(time.Minute)); !at.IsZero() {
			statusAt = at.Sub(start)
		}
		tokenAt := <-tokenDone
		if tokenAt < 0 || statusAt < 0 {
			b.Fatalf("change %d: token after %v, status after %v (negative: not within a minute)", i, tokenAt, statusAt)
		}
		served, shown = append(served, tokenAt), append(shown, statusAt)
	}
	report := func(prefix string, samples []time.Duration) {
		sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
		b.ReportMetric(float64(samples[len(samples)/2].Milliseconds()), prefix+"-p50-ms")
		b.ReportMetric(float64(samples[(len(samples)*95+99)/100-1].Milliseconds()), prefix+"-p95-ms")
		b.ReportMetric(float64(samples[len(samples)-1].Milliseconds()), prefix+"-max-ms")
	}
	report("token", served)
	report("status", shown)
	b.ReportMetric(changes, "changes")
}

// untilTokenCarries asks token every 5 ms, for at most a minute from
// start, until it returns want; the channel then yields the time since
// start (-1 after the minute).
func untilTokenCarries(token func() int64, want int64, start time.Time) <-chan time.Duration {
	done := make(chan time.Duration, 1)
	go func() {
		for time.Since(start) < time.Minute {
			if token() == want {
				done <- time.Since(start)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		done <- -1
	}()
	return done
}

// tokenProbe returns a function that asks the token endpoint for one
// client_credentials token of the shop's machine-to-machine application
// and returns its exp - iat (0 on any error).
func tokenProbe(b *testing.B, s *shop, audience string) func() int64 {
	id, secret := clientSecret(b, s.ns, s.m2m.Name)
	return clientCredentialsProbe(b, s.issuer, id, secret, audience)
}

// clientCredentialsProbe returns a function that asks issuer's token
// endpoint for one client_credentials token for audience and returns its
// exp - iat (0 on any error).
func clientCredentialsProbe(b *testing.B, issuer, id, secret, audience string) func() int64 {
	provider, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		b.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {audience}}.Encode()
	tokenURL := provider.Endpoint().TokenURL
	return func() int64 {
		req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		var out struct {
			AccessToken string `json:"access_token"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
			return 0
		}
		return lifetimeOf(b, out.AccessToken)
	}
}

// statusWatch follows the shop's billing API and the Application calling
// it (invoicer) through watches and keeps the latest of each.
type statusWatch struct {
	mu      sync.Mutex
	api     *v1alpha1.API
	app     *v1alpha1.Application
	changed chan struct{}
	s       *shop
}

func watchStatus(ctx context.Context, b *testing.B, s *shop) *statusWatch {
	wc, err := client.NewWithWatch(kubelet.Config, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	w := &statusWatch{changed: make(chan struct{}, 1), s: s}
	follow := func(list client.ObjectList, name string) {
		wi, err := wc.Watch(ctx, list, client.InNamespace(s.ns), client.MatchingFields{"metadata.name": name})
		if err != nil {
			b.Fatal(err)
		}
		go func() {
			defer wi.Stop()
			for ev := range wi.ResultChan() {
				w.mu.Lock()
				switch o := ev.Object.(type) {
				case *v1alpha1.API:
					w.api = o
				case *v1alpha1.Application:
					w.app = o
				}
				w.mu.Unlock()
				select {
				case w.changed <- struct{}{}:
				default:
				}
			}
		}()
	}
	follow(&v1alpha1.APIList{}, s.bills.Name)
	follow(&v1alpha1.ApplicationList{}, s.m2m.Name)
	return w
}

// until waits until both objects report access token lifetime want for
// billing, Ready=True at their current generation, and returns when the
// event that made it so arrived (the zero time after deadline).
func (w *statusWatch) until(want int64, deadline time.Time) time.Time {
	for {
		w.mu.Lock()
		ok := statusShows(w.api, w.app, w.s.bills.Spec.Audience, want)
		w.mu.Unlock()
		if ok {
			return time.Now()
		}
		select {
		case <-w.changed:
		case <-time.After(time.Until(deadline)):
			return time.Time{}
		}
	}
}

// statusShows reports whether api and app both report access token
// lifetime want for audience (standard flow), Ready=True at their current
// generation.
func statusShows(api *v1alpha1.API, app *v1alpha1.Application, audience string, want int64) bool {
	readyNow := func(gen int64, conds []metav1.Condition) bool {
		c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen
	}
	if api == nil || api.Status.Effective == nil || api.Status.Effective.TokenLifetime.Seconds != want ||
		!readyNow(api.Generation, api.Status.Conditions) {
		return false
	}
	if app == nil || app.Status.Effective == nil || !readyNow(app.Generation, app.Status.Conditions) {
		return false
	}
	for _, at := range app.Status.Effective.AccessTokens {
		if at.Audience == audience && at.Flow == v1alpha1.FlowStandard {
			return at.Lifetime.Seconds == want
		}
	}
	return false
}
