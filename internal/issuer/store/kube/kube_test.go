package kube_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	statev1 "github.com/idtenant/idtenant/api/state/v1alpha1"
	"github.com/idtenant/idtenant/internal/controlplane"
	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/kube"
	"github.com/idtenant/idtenant/internal/issuer/store/storetest"
)

var (
	adminCfg *rest.Config
	admin    kubernetes.Interface
)

func TestMain(m *testing.M) {
	cp, err := controlplane.Start("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	adminCfg = cp.Config
	admin = kubernetes.NewForConfigOrDie(adminCfg)
	code := m.Run()
	_ = cp.Stop()
	os.Exit(code)
}

const tenant = "acme"

var resources = []string{"sessions", "authorizationcodes", "refreshfamilies", "revokedtokens", "consents"}

// issuerEnv creates a namespace and a ServiceAccount allowed exactly
// create, get, update and delete on the state resources there, and
// returns a config impersonating it.
func issuerEnv(tb testing.TB) (ns string, cfg *rest.Config) {
	tb.Helper()
	ctx := context.Background()
	ns = "state-" + rand.String(8)
	must(tb, create(ctx, admin.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	must(tb, create(ctx, admin.CoreV1().ServiceAccounts(ns), &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "issuer"}}))
	must(tb, create(ctx, admin.RbacV1().Roles(ns), &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "issuer-state"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{statev1.GroupVersion.Group},
			Resources: resources,
			Verbs:     []string{"create", "get", "update", "delete"},
		}},
	}))
	must(tb, create(ctx, admin.RbacV1().RoleBindings(ns), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "issuer-state"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "issuer-state"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "issuer", Namespace: ns}},
	}))
	// The API server's authorizer learns of the binding through an
	// informer: wait until it has, or the first request may be refused.
	deadline := time.Now().Add(10 * time.Second)
	for !allowed(tb, ns, "delete", "consents") {
		if time.Now().After(deadline) {
			tb.Fatal("the issuer's Role is not in force after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cfg = rest.CopyConfig(adminCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: serviceAccountUser(ns), Groups: serviceAccountGroups(ns)}
	return ns, cfg
}

func serviceAccountUser(ns string) string { return "system:serviceaccount:" + ns + ":issuer" }

func serviceAccountGroups(ns string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
}

// allowed asks the API server whether the issuer's ServiceAccount in ns
// may verb the state resource res.
func allowed(tb testing.TB, ns, verb, res string) bool {
	tb.Helper()
	sar, err := admin.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User: serviceAccountUser(ns), Groups: serviceAccountGroups(ns),
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ns, Verb: verb, Group: statev1.GroupVersion.Group, Resource: res,
			},
		},
	}, metav1.CreateOptions{})
	must(tb, err)
	return sar.Status.Allowed
}

func issuerStore(tb testing.TB) (*kube.Store, string, types.UID) {
	tb.Helper()
	ns, cfg := issuerEnv(tb)
	uid := types.UID(rand.String(16))
	s, err := kube.New(cfg, ns, tenant, uid)
	must(tb, err)
	return s, ns, uid
}

// TestConformance runs the shared cases as the least-privileged issuer
// identity: whatever the backend needs beyond create, get, update and
// delete fails here.
func TestConformance(t *testing.T) {
	s, _, _ := issuerStore(t)
	storetest.Run(t, func(*testing.T) store.Store { return s })
}

// TestIdentityIsLeastPrivileged makes sure the conformance identity really
// lacks list, watch and patch, so that passing proves they are not needed.
func TestIdentityIsLeastPrivileged(t *testing.T) {
	ns, _ := issuerEnv(t)
	for _, res := range resources {
		for verb, want := range map[string]bool{
			"create": true, "get": true, "update": true, "delete": true,
			"list": false, "watch": false, "patch": false, "deletecollection": false,
		} {
			if got := allowed(t, ns, verb, res); got != want {
				t.Errorf("%s %s allowed = %v, want %v", verb, res, got, want)
			}
		}
	}
}

// TestObjects checks what lands in the API server: the object is named by
// the key, labelled and owned as documented, holds exactly the spec given,
// and nothing of the secrets the keys were derived from.
func TestObjects(t *testing.T) {
	ctx := t.Context()
	s, ns, uid := issuerStore(t)
	stateKey := []byte("tenant-state-key-" + rand.String(16))
	secret := func(what string) string { return what + "-SECRET-" + rand.String(20) }
	cookie, code, familyID, refresh, jti := secret("cookie"), secret("code"), secret("family"), secret("refresh"), secret("jti")

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sess, cd, fam, rev, consent := storetest.Samples(t0)
	cd.SessionKey = store.Key(stateKey, store.KindSession, cookie)
	cd.Family = store.Key(stateKey, store.KindFamily, familyID)
	fam.SessionKey = cd.SessionKey
	fam.Current = store.Key(stateKey, store.KindFamily, refresh)
	fam.Previous = store.Key(stateKey, store.KindFamily, refresh+"-previous")

	keys := map[string]string{
		"sessions":           store.Key(stateKey, store.KindSession, cookie),
		"authorizationcodes": store.Key(stateKey, store.KindCode, code),
		"refreshfamilies":    store.Key(stateKey, store.KindFamily, familyID),
		"revokedtokens":      store.Key(stateKey, store.KindRevocation, jti),
		"consents":           store.Key(stateKey, store.KindConsent, "alice\x00partner.web"),
	}
	_, err := s.Sessions().Create(ctx, keys["sessions"], sess)
	must(t, err)
	_, err = s.Codes().Create(ctx, keys["authorizationcodes"], cd)
	must(t, err)
	_, err = s.Families().Create(ctx, keys["refreshfamilies"], fam)
	must(t, err)
	_, err = s.Revocations().Create(ctx, keys["revokedtokens"], rev)
	must(t, err)
	_, err = s.Consents().Create(ctx, keys["consents"], consent)
	must(t, err)

	tm := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	ptm := func(d time.Duration) *metav1.Time { m := tm(d); return &m }
	// The specs written by hand from the samples, to check the conversion
	// independently of its inverse.
	wantSpecs := map[string]any{
		"sessions": statev1.SessionSpec{
			SID: "sid-1", Subject: "alice", AuthTime: tm(-time.Hour), LastActivity: tm(0), UserFingerprint: "fp-1",
			Identity: "sealed-identity-1", Families: sess.Families,
		},
		"authorizationcodes": statev1.AuthorizationCodeSpec{
			ClientID: "shop.web", RedirectURI: "https://shop.example/cb",
			CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
			Nonce: "n-0S6_WzA2Mj", Scopes: []string{"openid", "profile", "offline_access"}, Audience: "orders",
			SessionKey: cd.SessionKey, SID: "sid-1", Subject: "alice",
			AuthTime: tm(-time.Hour), ExpiresAt: tm(time.Minute), RedeemedAt: ptm(10 * time.Second),
			Family: cd.Family, AccessJTI: "jti-1", AccessExp: ptm(time.Hour),
		},
		"refreshfamilies": statev1.RefreshFamilySpec{
			ClientID: "shop.web", Subject: "alice", Scopes: []string{"openid", "offline_access"}, Audience: "orders",
			SessionKey: fam.SessionKey, SID: "sid-1", AuthTime: tm(-time.Hour), UserFingerprint: "fp-1",
			Identity:  "sealed-identity-1",
			GrantedAt: tm(-30 * time.Minute), LastUsed: tm(0),
			Current: fam.Current, Previous: fam.Previous, RotatedAt: ptm(0),
			Grant:     fam.Grant,
			RevokedAt: ptm(time.Second), ExpiresAt: tm(24 * time.Hour),
		},
		"revokedtokens": statev1.RevokedTokenSpec{ClientID: "shop.web", ExpiresAt: tm(time.Hour)},
		"consents": statev1.ConsentSpec{ClientID: "partner.web", Subject: "alice",
			Scopes: []string{"email", "groups", "https://api.example.com orders:read"}, GrantedAt: tm(0), ExpiresAt: tm(365 * 24 * time.Hour)},
	}

	for _, res := range resources {
		key := keys[res]
		raw, err := admin.Discovery().RESTClient().Get().
			AbsPath("/apis", statev1.GroupVersion.Group, statev1.GroupVersion.Version, "namespaces", ns, res, key).DoRaw(ctx)
		must(t, err)
		var obj struct {
			metav1.ObjectMeta `json:"metadata"`
			Spec              json.RawMessage `json:"spec"`
		}
		must(t, json.Unmarshal(raw, &obj))
		if obj.Name != key || obj.Namespace != ns {
			t.Errorf("%s: object %s/%s, want %s/%s", res, obj.Namespace, obj.Name, ns, key)
		}
		if !reflect.DeepEqual(obj.Labels, map[string]string{statev1.TenantLabel: tenant}) {
			t.Errorf("%s: labels %v", res, obj.Labels)
		}
		wantOwner := []metav1.OwnerReference{{APIVersion: "idtenant.dev/v1alpha1", Kind: "Tenant", Name: tenant, UID: uid, Controller: new(true)}}
		if !reflect.DeepEqual(obj.OwnerReferences, wantOwner) {
			t.Errorf("%s: ownerReferences %+v, want %+v (no blockOwnerDeletion)", res, obj.OwnerReferences, wantOwner)
		}
		if len(obj.Annotations) > 0 || len(obj.Finalizers) > 0 {
			t.Errorf("%s: created with annotations %v, finalizers %v", res, obj.Annotations, obj.Finalizers)
		}
		// Compared as JSON: exactly these fields, with these values.
		var got, want any
		must(t, json.Unmarshal(obj.Spec, &got))
		wantJSON, err := json.Marshal(wantSpecs[res])
		must(t, err)
		must(t, json.Unmarshal(wantJSON, &want))
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: spec\n got  %s\n want %s", res, obj.Spec, wantJSON)
		}
		for _, secret := range []string{cookie, code, familyID, refresh, jti, string(stateKey), "SECRET"} {
			if strings.Contains(string(raw), secret) {
				t.Errorf("%s: the object contains the secret %q:\n%s", res, secret, raw)
			}
		}
	}

	// An Update keeps the metadata as documented, marks the write and
	// drops managedFields.
	rec, err := s.Families().Get(ctx, keys["refreshfamilies"])
	must(t, err)
	rec.Value.LastUsed = t0.Add(time.Minute)
	upd, err := s.Families().Update(ctx, rec)
	must(t, err)
	raw, err := admin.Discovery().RESTClient().Get().
		AbsPath("/apis", statev1.GroupVersion.Group, statev1.GroupVersion.Version, "namespaces", ns, "refreshfamilies", keys["refreshfamilies"]).DoRaw(ctx)
	must(t, err)
	var obj statev1.RefreshFamily
	must(t, json.Unmarshal(raw, &obj))
	if obj.ResourceVersion != upd.Version || obj.Labels[statev1.TenantLabel] != tenant ||
		len(obj.OwnerReferences) != 1 || obj.OwnerReferences[0].UID != uid || obj.Annotations[kube.WriteAnnotation] == "" ||
		len(obj.ManagedFields) != 0 {
		t.Errorf("after Update: %+v", obj.ObjectMeta)
	}
}

// TestUnchangedUpdateIsAWrite: the API server keeps the resourceVersion of
// an object a PUT does not change; the store still gives one winner.
func TestUnchangedUpdateIsAWrite(t *testing.T) {
	ctx := t.Context()
	s, _, _ := issuerStore(t)
	_, _, fam, _, _ := storetest.Samples(time.Now())
	key := store.Key([]byte("k"), store.KindFamily, rand.String(10))
	rec, err := s.Families().Create(ctx, key, fam)
	must(t, err)
	a, err := s.Families().Update(ctx, rec)
	must(t, err)
	if a.Version == rec.Version {
		t.Fatalf("an Update with the same value kept version %s", a.Version)
	}
	if _, err := s.Families().Update(ctx, rec); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second Update with the same value at the old version: %v, want ErrConflict", err)
	}
}

// TestTimePrecision documents what the API server keeps of a time: whole
// seconds, read back in UTC.
func TestTimePrecision(t *testing.T) {
	ctx := t.Context()
	s, _, _ := issuerStore(t)
	paris := time.FixedZone("CET", 3600)
	at := time.Date(2026, 3, 1, 13, 0, 0, 999_000_000, paris)
	key := store.Key([]byte("k"), store.KindRevocation, rand.String(10))
	rec, err := s.Revocations().Create(ctx, key, store.Revocation{ExpiresAt: at})
	must(t, err)
	want := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if rec.Value.ExpiresAt != want {
		t.Errorf("Create returned %v, want the stored %v", rec.Value.ExpiresAt, want)
	}
	got, err := s.Revocations().Get(ctx, key)
	must(t, err)
	if got.Value.ExpiresAt != want {
		t.Errorf("Get returned %v, want %v", got.Value.ExpiresAt, want)
	}
}

// BenchmarkKubeStore measures one refresh-grant-like cycle, a Get then an
// Update of a refresh family, against the real API server, as the
// least-privileged issuer identity (impersonated; a real issuer
// authenticates with its ServiceAccount token instead). Serial is one
// caller's latency; Parallel is the throughput of concurrent callers, each
// on its own record, as an issuer serving many clients sees it.
func BenchmarkKubeStore(b *testing.B) {
	s, _, _ := issuerStore(b)
	_, _, fam, _, _ := storetest.Samples(time.Now())
	newFamily := func(b *testing.B) string {
		key := store.Key([]byte("bench"), store.KindFamily, rand.String(20))
		if _, err := s.Families().Create(context.Background(), key, fam); err != nil {
			b.Fatal(err)
		}
		return key
	}
	cycle := func(b *testing.B, key string, i int) {
		ctx := context.Background()
		rec, err := s.Families().Get(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		rec.Value.Previous = rec.Value.Current
		rec.Value.Current = store.Key([]byte("bench"), store.KindFamily, fmt.Sprint(i))
		if _, err := s.Families().Update(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Serial", func(b *testing.B) {
		key := newFamily(b)
		i := 0
		for b.Loop() {
			cycle(b, key, i)
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
	})
	b.Run("Parallel", func(b *testing.B) {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			key := newFamily(b)
			i := 0
			for pb.Next() {
				cycle(b, key, i)
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
	})
}

type creator[T any] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
}

func create[T any](ctx context.Context, c creator[T], obj T) error {
	_, err := c.Create(ctx, obj, metav1.CreateOptions{})
	return err
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
