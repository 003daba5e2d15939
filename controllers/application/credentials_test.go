package application

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/controllers/serving"
)

// TestGeneratedSecretsPass: whatever the operator generates, it accepts.
func TestGeneratedSecretsPass(t *testing.T) {
	for range 20000 {
		s, err := newClientSecret()
		if err != nil {
			t.Fatal(err)
		}
		if why := serving.WeakClientSecret([]byte(s)); why != "" || len(s) != 43 {
			t.Fatalf("generated secret refused (%d chars): %s", len(s), why)
		}
	}
}

// TestRotateClientSecret: the rotation annotation's new value moves the
// secret aside for serving.ClientSecretOverlap; the same value again does
// nothing; a previous secret is removed at its deadline, or at once when the
// deadline cannot be read.
func TestRotateClientSecret(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{v1alpha1.AnnotationRotateClientSecret: "r1"}}}
	s := &corev1.Secret{Data: map[string][]byte{serving.SecretKeyClientSecret: []byte("first")}}
	if changed, err := rotateClientSecret(app, s, now); err != nil || !changed {
		t.Fatalf("first rotation: changed %v, %v", changed, err)
	}
	if string(s.Data[serving.SecretKeyPreviousClientSecret]) != "first" || string(s.Data[serving.SecretKeyClientSecret]) == "first" {
		t.Fatalf("after rotation: %v", s.Data)
	}
	if got := previousSecretValidUntil(s); !got.Equal(now.Add(serving.ClientSecretOverlap)) {
		t.Errorf("previous valid until %v, want %v", got, now.Add(serving.ClientSecretOverlap))
	}
	second := string(s.Data[serving.SecretKeyClientSecret])
	if changed, _ := rotateClientSecret(app, s, now.Add(time.Hour)); changed || string(s.Data[serving.SecretKeyClientSecret]) != second {
		t.Errorf("the same annotation value rotated again")
	}
	if changed, _ := rotateClientSecret(app, s, now.Add(serving.ClientSecretOverlap)); !changed || s.Data[serving.SecretKeyPreviousClientSecret] != nil ||
		s.Annotations[serving.AnnotationPreviousValidUntil] != "" || !previousSecretValidUntil(s).IsZero() {
		t.Errorf("at the deadline the previous secret stays: %v %v", s.Data, s.Annotations)
	}
	s.Data[serving.SecretKeyPreviousClientSecret] = []byte("stray")
	s.Annotations[serving.AnnotationPreviousValidUntil] = "tomorrow"
	if changed, _ := rotateClientSecret(app, s, now); !changed || s.Data[serving.SecretKeyPreviousClientSecret] != nil {
		t.Errorf("a previous secret without a readable deadline stays: %v", s.Data)
	}
}
