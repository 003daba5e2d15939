package kube_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/idtenant/idtenant/internal/issuer/store"
	"github.com/idtenant/idtenant/internal/issuer/store/kube"
)

// Requests the store makes, and how it reads failures, checked against a
// fake API server: no control plane needed.

func TestNewRefusesBadArguments(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	for _, c := range []struct {
		ns, tenant string
		uid        types.UID
	}{
		{"", tenant, "u"},
		{"Not_A_Namespace", tenant, "u"},
		{"ns", "", "u"},
		{"ns", strings.Repeat("a", 64), "u"},
		{"ns", tenant, ""},
	} {
		if _, err := kube.New(cfg, c.ns, c.tenant, c.uid); err == nil {
			t.Errorf("New(%q, %q, %q) accepted", c.ns, c.tenant, c.uid)
		}
	}
	if _, err := kube.New(nil, "ns", tenant, "u"); err == nil {
		t.Error("New without config accepted")
	}
}

// fakeServer answers every request with handler and counts them.
func fakeServer(t *testing.T, handler http.HandlerFunc) (*rest.Config, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return &rest.Config{Host: srv.URL}, &n
}

func TestInvalidKeysNeverReachTheServer(t *testing.T) {
	ctx := t.Context()
	cfg, requests := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("request %s %s", r.Method, r.URL)
		w.WriteHeader(http.StatusInternalServerError)
	})
	s, err := kube.New(cfg, "ns", tenant, "u")
	must(t, err)
	valid := store.Key([]byte("k"), store.KindSession, "x")
	for _, key := range []string{
		"", "x", valid[:51], valid + "a", strings.ToUpper(valid), valid[:50] + "..", valid[:50] + "/x",
		valid[:51] + "1", valid[:51] + "8", valid[:51] + "=",
	} {
		_, errGet := s.Sessions().Get(ctx, key)
		_, errCreate := s.Codes().Create(ctx, key, store.Code{})
		_, errUpdate := s.Families().Update(ctx, store.Record[store.RefreshFamily]{Key: key, Version: "1"})
		errDelete := s.Revocations().Delete(ctx, key, "")
		for op, err := range map[string]error{"Get": errGet, "Create": errCreate, "Update": errUpdate, "Delete": errDelete} {
			if err == nil || !store.IsUnavailable(err) {
				t.Errorf("%s(%q) = %v, want an error that is not ErrNotFound or ErrConflict", op, key, err)
			}
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}

func TestUpdateWithoutVersionIsRefused(t *testing.T) {
	cfg, requests := fakeServer(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	s, err := kube.New(cfg, "ns", tenant, "u")
	must(t, err)
	key := store.Key([]byte("k"), store.KindSession, "x")
	if _, err := s.Sessions().Update(t.Context(), store.Record[store.Session]{Key: key}); err == nil {
		t.Error("an Update without version was accepted")
	}
	if requests.Load() != 0 {
		t.Error("an Update without version reached the server")
	}
}

// TestServerFailuresAreUnavailable: what is not an answer about the record
// (a server error, a refused identity, a missing CRD, no answer at all)
// must not read as "no such record" or "lost a race".
func TestServerFailuresAreUnavailable(t *testing.T) {
	status := func(code int, reason metav1.StatusReason, details *metav1.StatusDetails) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(&metav1.Status{
				TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status:   metav1.StatusFailure, Code: int32(code), Reason: reason, Details: details,
				Message: "canned",
			})
		}
	}
	hang := func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}
	for name, h := range map[string]http.HandlerFunc{
		"internal error": status(500, metav1.StatusReasonInternalError, nil),
		"forbidden":      status(403, metav1.StatusReasonForbidden, &metav1.StatusDetails{Kind: "sessions"}),
		// What the API server answers when the CRD is not installed.
		"missing CRD":         status(404, metav1.StatusReasonNotFound, &metav1.StatusDetails{}),
		"missing namespace":   status(404, metav1.StatusReasonNotFound, &metav1.StatusDetails{Kind: "namespaces", Name: "ns"}),
		"not JSON":            func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad gateway", http.StatusBadGateway) },
		"no answer (hangs)":   hang,
		"service unavailable": status(503, metav1.StatusReasonServiceUnavailable, nil),
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			cfg, _ := fakeServer(t, h)
			s, err := kube.New(cfg, "ns", tenant, "u", kube.WithTimeout(300*time.Millisecond))
			must(t, err)
			key := store.Key([]byte("k"), store.KindSession, "x")
			start := time.Now()
			_, errGet := s.Sessions().Get(ctx, key)
			_, errCreate := s.Sessions().Create(ctx, key, store.Session{})
			_, errUpdate := s.Sessions().Update(ctx, store.Record[store.Session]{Key: key, Version: "1"})
			errDelete := s.Sessions().Delete(ctx, key, "1")
			for op, err := range map[string]error{"Get": errGet, "Create": errCreate, "Update": errUpdate, "Delete": errDelete} {
				if !store.IsUnavailable(err) {
					t.Errorf("%s = %v, want an unavailability error", op, err)
				}
			}
			if d := time.Since(start); d > 4*time.Second {
				t.Errorf("four failing calls took %v with a 300ms timeout", d)
			}
		})
	}
}
