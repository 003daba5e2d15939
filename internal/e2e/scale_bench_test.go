package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// scaleCase is one size of BenchmarkScale: tenants Tenants, each with apps
// Applications and apis APIs.
type scaleCase struct{ tenants, apps, apis int }

func (c scaleCase) String() string {
	return fmt.Sprintf("%dtenants-%dapps-%dapis", c.tenants, c.apps, c.apis)
}

// scaleCases are issue 10's targets; IDTENANT_SCALE (e.g. "1x1000x10,10x50x5",
// tenants x apps x apis) replaces them for a quicker look.
func scaleCases(b *testing.B) []scaleCase {
	spec := os.Getenv("IDTENANT_SCALE")
	if spec == "" {
		return []scaleCase{{1, 5000, 50}, {100, 50, 5}}
	}
	var out []scaleCase
	for _, s := range strings.Split(spec, ",") {
		var c scaleCase
		if _, err := fmt.Sscanf(s, "%dx%dx%d", &c.tenants, &c.apps, &c.apis); err != nil || c.tenants < 1 || c.apps < 1 || c.apis < 1 {
			b.Fatalf("IDTENANT_SCALE %q: want tenants x apps x apis, e.g. 1x1000x10", s)
		}
		out = append(out, c)
	}
	return out
}

// BenchmarkScale is issue 10's scale target: an estate imported at once,
// as Argo CD would, by a client that is not throttled below what the API
// server takes (16 writers, no client-side rate limit). It reports the time
// from the first create until every Tenant, API and Application is Ready
// (served by the issuer at its current generation), the test process's
// peak RSS (the manager runs in it; the bench client's share is small: it
// keeps a few numbers per object, not the objects), how many configuration
// generations the first Tenant went through, and, for one later change of
// an API's tokenLifetime, how long until a token carries it and until the
// API and every Application listing it show it in status. Run with
// -benchtime=1x (make bench does).
func BenchmarkScale(b *testing.B) {
	for _, c := range scaleCases(b) {
		b.Run(c.String(), func(b *testing.B) { runScale(b, c) })
	}
}

func runScale(b *testing.B, c scaleCase) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := rest.CopyConfig(kubelet.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	writer, err := client.NewWithWatch(cfg, client.Options{Scheme: k8s.Scheme()})
	must(b, err)
	resetPeakRSS()

	// Tenants first, as the sync waves of docs/gitops.md order them.
	start := time.Now()
	namespaces := make([]string, c.tenants)
	issuers := make([]string, c.tenants)
	for t := range namespaces {
		namespaces[t], issuers[t] = newTenant(b, nil)
	}
	f := followFleet(ctx, b, writer, namespaces)
	if c.tenants == 1 {
		// One tenant: the clock starts once its issuer runs, so the figure
		// is about the Applications and APIs alone.
		f.waitReady(b, 1, start, start.Add(5*time.Minute))
		start = time.Now()
	}
	if path := os.Getenv("IDTENANT_APISERVER_PROFILE"); path != "" {
		go profileAPIServer(b, cfg, path)
	}
	requestsBefore := apiRequests(b, cfg)
	var objs []client.Object
	for _, ns := range namespaces {
		objs = append(objs, scaleObjects(ns, c)...)
	}
	createAll(ctx, b, writer, objs, 16)
	created := time.Since(start)
	f.waitReady(b, c.tenants*(1+c.apps+c.apis), start, start.Add(20*time.Minute))
	allReady := time.Since(start)
	requests := apiRequests(b, cfg)
	total := 0.0
	for k, v := range requests {
		requests[k] = v - requestsBefore[k]
		total += requests[k]
	}
	b.Logf("API server requests until all Ready: %s", topRequests(requests, 12))
	b.Logf("Events: %s", eventReasons(ctx, b, namespaces))
	peak := peakRSS()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)

	tenant := &v1alpha1.Tenant{}
	must(b, k8s.Get(ctx, client.ObjectKey{Namespace: namespaces[0], Name: "acme"}, tenant))
	generations := tenant.Status.Issuer.ConfigGeneration
	configKiB := float64(tenant.Status.Issuer.ConfigBytes) / 1024

	// One later change at this size: api-00 of the first tenant, listed by
	// app-00000 (machine-to-machine) and every app i with i%apis in {0, apis-1}.
	servedAt, shownAt := scaleChange(ctx, b, f, namespaces[0], issuers[0], c)

	b.ReportMetric(created.Seconds(), "create-s")
	b.ReportMetric(allReady.Seconds(), "all-ready-s")
	b.ReportMetric(float64(peak)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(generations), "generations")
	b.ReportMetric(total/float64(c.tenants*c.apps), "requests/app")
	b.ReportMetric(configKiB, "config-KiB")
	b.ReportMetric(float64(servedAt.Milliseconds()), "change-served-ms")
	b.ReportMetric(float64(shownAt.Milliseconds()), "change-shown-ms")

	cancel()
	for _, ns := range namespaces {
		removeTenantObjects(b, ns)
	}
}

// scaleObjects are one tenant's APIs and Applications: one in ten
// Applications is machine-to-machine and one in three a regular web app
// (both confidential, with generated secrets), the rest single-page apps;
// each lists two neighbouring APIs.
func scaleObjects(ns string, c scaleCase) []client.Object {
	tenant := v1alpha1.TenantReference{Name: "acme"}
	var out []client.Object
	for j := 0; j < c.apis; j++ {
		out = append(out, &v1alpha1.API{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("api-%02d", j), Namespace: ns},
			Spec: v1alpha1.APISpec{TenantRef: tenant, Audience: fmt.Sprintf("https://api-%02d.%s.test", j, ns)}})
	}
	for i := 0; i < c.apps; i++ {
		apis := []v1alpha1.APIAccess{{Name: fmt.Sprintf("api-%02d", i%c.apis)}}
		if c.apis > 1 {
			apis = append(apis, v1alpha1.APIAccess{Name: fmt.Sprintf("api-%02d", (i+1)%c.apis)})
		}
		app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%05d", i), Namespace: ns},
			Spec: v1alpha1.ApplicationSpec{TenantRef: tenant, Type: v1alpha1.SinglePage, APIs: apis,
				RedirectURIs: []v1alpha1.RedirectURI{v1alpha1.RedirectURI(fmt.Sprintf("https://app-%05d.%s.test/cb", i, ns))}}}
		switch {
		case i%10 == 0:
			app.Spec.Type, app.Spec.RedirectURIs = v1alpha1.MachineToMachine, nil
		case i%3 == 0:
			app.Spec.Type = v1alpha1.RegularWeb
		}
		out = append(out, app)
	}
	return out
}

// createAll creates objs with workers concurrent writers.
func createAll(ctx context.Context, b *testing.B, c client.Client, objs []client.Object, workers int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(objs) {
					return
				}
				if err := c.Create(ctx, objs[i]); err != nil {
					errs <- fmt.Errorf("creating %s: %w", objs[i].GetName(), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// scaleChange changes api-00's tokenLifetime in namespace ns and returns
// how long until a client_credentials token carries it, and until the API
// and every Application listing it show it, Ready at their generation.
func scaleChange(ctx context.Context, b *testing.B, f *fleet, ns, issuer string, c scaleCase) (served, shown time.Duration) {
	id, secret := clientSecret(b, ns, "app-00000")
	audience := fmt.Sprintf("https://api-00.%s.test", ns)
	token := clientCredentialsProbe(b, issuer, id, secret, audience)
	const want = int64(3*3600 + 17*60)
	api := &v1alpha1.API{}
	must(b, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api-00"}, api))
	before := api.DeepCopy()
	api.Spec.TokenLifetime = &metav1.Duration{Duration: time.Duration(want) * time.Second}
	start := time.Now()
	must(b, k8s.Patch(ctx, api, client.MergeFrom(before)))
	tokenDone := untilTokenCarries(token, want, start)
	shown = -1
	at, pending := f.untilShown(ns, "api-00", audience, want, start.Add(time.Minute))
	if !at.IsZero() {
		shown = at.Sub(start)
	}
	served = <-tokenDone
	if served < 0 || shown < 0 {
		b.Fatalf("change: token after %v, status after %v (negative: not within a minute; %s)", served, shown, pending)
	}
	return served, shown
}

// removeTenantObjects deletes what a scale run created in ns, and the
// issuer Deployment so its process stops (no garbage collector runs here).
func removeTenantObjects(b *testing.B, ns string) {
	ctx := context.Background()
	for _, o := range []client.Object{&v1alpha1.Application{}, &v1alpha1.API{}, &v1alpha1.Tenant{}, &appsv1.Deployment{}} {
		if err := k8s.DeleteAllOf(ctx, o, client.InNamespace(ns)); err != nil {
			b.Logf("cleaning up %s: %v", ns, err)
		}
	}
}

// fleet follows every Tenant, API and Application of some namespaces
// through watches and keeps, per object, only what the benchmark asks:
// Ready at the current generation, and the lifetimes status shows.
type fleet struct {
	mu         sync.Mutex
	namespaces map[string]bool
	ready      map[string]bool                // "Kind ns/name"
	apiTTL     map[string][2]int64            // API "ns/name" -> status.effective tokenLifetime, tokenLifetimeForBrowserFlows
	appTTL     map[string]map[string][2]int64 // Application "ns/name" -> audience -> access token lifetime (standard, browser flows)
	appAPIs    map[string][]string            // Application "ns/name" -> API names in spec.apis
	changed    chan struct{}
	// why is the Ready message of objects not Ready.
	why map[string]string
	// trace, when IDTENANT_SCALE_TRACE is set, prints each Tenant status
	// change with the time since the fleet was followed.
	trace func(string)
}

func followFleet(ctx context.Context, b *testing.B, c client.WithWatch, namespaces []string) *fleet {
	f := &fleet{namespaces: map[string]bool{}, ready: map[string]bool{}, apiTTL: map[string][2]int64{},
		appTTL: map[string]map[string][2]int64{}, appAPIs: map[string][]string{}, changed: make(chan struct{}, 1), why: map[string]string{}}
	for _, ns := range namespaces {
		f.namespaces[ns] = true
	}
	if os.Getenv("IDTENANT_SCALE_TRACE") != "" {
		t0 := time.Now()
		f.trace = func(s string) { fmt.Fprintf(os.Stderr, "%6.1fs %s\n", time.Since(t0).Seconds(), s) }
	}
	follow(ctx, b, c, &v1alpha1.TenantList{}, f.observe)
	follow(ctx, b, c, &v1alpha1.APIList{}, f.observe)
	follow(ctx, b, c, &v1alpha1.ApplicationList{}, f.observe)
	return f
}

func (f *fleet) observe(o client.Object) {
	if !f.namespaces[o.GetNamespace()] {
		return
	}
	key := o.GetNamespace() + "/" + o.GetName()
	ready := func(conds []metav1.Condition) bool {
		c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		ok := c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.GetGeneration()
		if !ok && c != nil {
			f.why[key] = c.Reason + ": " + c.Message
		} else {
			delete(f.why, key)
		}
		return ok
	}
	f.mu.Lock()
	switch obj := o.(type) {
	case *v1alpha1.Tenant:
		f.ready["Tenant "+key] = ready(obj.Status.Conditions)
		if f.trace != nil && obj.Status.Issuer != nil {
			f.trace(fmt.Sprintf("Tenant %s: %d Applications, config generation %d, served %d", key, obj.Status.Applications, obj.Status.Issuer.ConfigGeneration, obj.Status.Issuer.ServedGeneration))
		}
	case *v1alpha1.API:
		f.ready["API "+key] = ready(obj.Status.Conditions)
		if obj.Status.Effective != nil {
			e := obj.Status.Effective
			f.apiTTL[key] = [2]int64{e.TokenLifetime.Seconds, e.TokenLifetimeForBrowserFlows.Seconds}
		}
	case *v1alpha1.Application:
		f.ready["Application "+key] = ready(obj.Status.Conditions)
		ttl := map[string][2]int64{}
		if obj.Status.Effective != nil {
			for _, at := range obj.Status.Effective.AccessTokens {
				t := ttl[at.Audience]
				if at.Flow == v1alpha1.FlowBrowser {
					t[1] = at.Lifetime.Seconds
				} else {
					t[0] = at.Lifetime.Seconds
				}
				ttl[at.Audience] = t
			}
		}
		f.appTTL[key] = ttl
		names := make([]string, len(obj.Spec.APIs))
		for i, a := range obj.Spec.APIs {
			names[i] = a.Name
		}
		f.appAPIs[key] = names
	}
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

// waitReady waits until n followed objects are Ready, and logs when a
// tenth, a quarter, half, three quarters and nine tenths of them were.
// Times count from start.
func (f *fleet) waitReady(b *testing.B, n int, start, deadline time.Time) {
	marks := []float64{0.1, 0.25, 0.5, 0.75, 0.9}
	var progress []string
	defer func() {
		if len(progress) > 0 {
			b.Logf("Ready after: %s", strings.Join(progress, ", "))
		}
	}()
	for {
		f.mu.Lock()
		ready := 0
		for _, ok := range f.ready {
			if ok {
				ready++
			}
		}
		f.mu.Unlock()
		for len(marks) > 0 && float64(ready) >= marks[0]*float64(n) {
			progress = append(progress, fmt.Sprintf("%.0f%% %.1fs", marks[0]*100, time.Since(start).Seconds()))
			marks = marks[1:]
		}
		if ready >= n {
			return
		}
		select {
		case <-f.changed:
		case <-time.After(time.Until(deadline)):
			f.mu.Lock()
			var pending []string
			for key, why := range f.why {
				if len(pending) < 5 {
					pending = append(pending, key+" "+why)
				}
			}
			f.mu.Unlock()
			b.Fatalf("%d of %d objects Ready at the deadline; not Ready, for example: %s", ready, n, strings.Join(pending, "; "))
		}
	}
}

// untilShown waits until API ns/name shows tokenLifetime want and every
// Application listing it shows the API's lifetimes for audience in each
// flow it uses, all Ready, and returns when that was seen (the zero time
// after deadline, with the first object still pending).
func (f *fleet) untilShown(ns, name, audience string, want int64, deadline time.Time) (time.Time, string) {
	key := ns + "/" + name
	pending := func() string {
		api := f.apiTTL[key]
		if !f.ready["API "+key] || api[0] != want {
			return fmt.Sprintf("API %s: Ready %v, tokenLifetime %ds", key, f.ready["API "+key], api[0])
		}
		for app, apis := range f.appAPIs {
			if !strings.HasPrefix(app, ns+"/") || !contains(apis, name) {
				continue
			}
			got := f.appTTL[app][audience]
			if !f.ready["Application "+app] || got[0] != 0 && got[0] != api[0] || got[1] != 0 && got[1] != api[1] || got == [2]int64{} {
				return fmt.Sprintf("Application %s: Ready %v, lifetimes for %s %v, the API's %v", app, f.ready["Application "+app], audience, got, api)
			}
		}
		return ""
	}
	for {
		f.mu.Lock()
		p := pending()
		f.mu.Unlock()
		if p == "" {
			return time.Now(), ""
		}
		select {
		case <-f.changed:
		case <-time.After(time.Until(deadline)):
			return time.Time{}, p
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// follow lists list's kind in all namespaces, hands every object to handle,
// then watches from the list's resourceVersion, watching again from the
// last one seen when the server ends a watch (and listing again when that
// version is too old).
func follow(ctx context.Context, b *testing.B, c client.WithWatch, list client.ObjectList, handle func(client.Object)) {
	relist := func() string {
		l := list.DeepCopyObject().(client.ObjectList)
		if err := c.List(ctx, l); err != nil {
			return ""
		}
		items, _ := meta.ExtractList(l)
		for _, o := range items {
			handle(o.(client.Object))
		}
		return l.GetResourceVersion()
	}
	rv := relist()
	if rv == "" {
		b.Fatalf("listing %T failed", list)
	}
	go func() {
		for ctx.Err() == nil {
			w, err := c.Watch(ctx, list.DeepCopyObject().(client.ObjectList), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true}})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				if ev.Type == watch.Error {
					rv = relist()
					break
				}
				o, ok := ev.Object.(client.Object)
				if !ok {
					continue
				}
				rv = o.GetResourceVersion()
				if ev.Type != watch.Bookmark && ev.Type != watch.Deleted {
					handle(o)
				}
			}
			w.Stop()
		}
	}()
}

// profileAPIServer writes a 60 s CPU profile of kube-apiserver to path
// (set IDTENANT_APISERVER_PROFILE to see where the server's time goes).
func profileAPIServer(b *testing.B, cfg *rest.Config, path string) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Log(err)
		return
	}
	resp, err := hc.Get(strings.TrimSuffix(apiServer, "/") + "/debug/pprof/profile?seconds=60")
	if err != nil {
		b.Log(err)
		return
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Log(err)
	}
}

// apiRequests reads kube-apiserver's request counters (all clients: the
// bench's writes, the manager's, the issuers'), summed by verb and resource.
func apiRequests(b *testing.B, cfg *rest.Config) map[string]float64 {
	hc, err := rest.HTTPClientFor(cfg)
	must(b, err)
	resp, err := hc.Get(strings.TrimSuffix(apiServer, "/") + "/metrics")
	must(b, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	must(b, err)
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, _ := strings.Cut(strings.TrimPrefix(line, "apiserver_request_total{"), "} ")
		get := func(name string) string {
			_, rest, ok := strings.Cut(labels, name+"=\"")
			if !ok {
				return ""
			}
			v, _, _ := strings.Cut(rest, "\"")
			return v
		}
		key := get("verb") + " " + get("resource")
		if sub := get("subresource"); sub != "" {
			key += "/" + sub
		}
		n, _ := strconv.ParseFloat(value, 64)
		out[key] += n
	}
	return out
}

// topRequests lists the n largest counts, largest first.
func topRequests(counts map[string]float64, n int) string {
	keys := make([]string, 0, len(counts))
	for k, v := range counts {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	var parts []string
	for i, k := range keys {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f", k, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// eventReasons counts the Events recorded in namespaces by kind, type and
// reason: the operator should record problems, not progress.
func eventReasons(ctx context.Context, b *testing.B, namespaces []string) string {
	counts := map[string]float64{}
	for _, ns := range namespaces {
		var list eventsv1.EventList
		must(b, k8s.List(ctx, &list, client.InNamespace(ns)))
		for _, e := range list.Items {
			counts[e.Regarding.Kind+" "+e.Type+"/"+e.Reason]++
		}
	}
	if len(counts) == 0 {
		return "none"
	}
	return topRequests(counts, 8)
}

// resetPeakRSS resets this process's peak resident set size (VmHWM), so
// peakRSS reports one case's peak.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is this process's peak resident set size in bytes (0 where
// /proc is not available).
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
