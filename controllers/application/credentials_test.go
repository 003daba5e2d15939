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

// TestRotateClientSecret: the rotation annotation's new value first puts a
// new secret in next-client-secret (the issuer learns it, applications do
// not read it); activation later it becomes client-secret and the old one
// previous-client-secret for serving.ClientSecretOverlap; the same value
// again does nothing; a previous secret is removed at its deadline, or at
// once when the deadline cannot be read.
func TestRotateClientSecret(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	const activation = 2 * time.Minute
	app := &v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{v1alpha1.AnnotationRotateClientSecret: "r1"}}}
	s := &corev1.Secret{Data: map[string][]byte{serving.SecretKeyClientSecret: []byte("first")}}
	if changed, err := rotateClientSecret(app, s, now, activation); err != nil || !changed {
		t.Fatalf("rotation asked: changed %v, %v", changed, err)
	}
	next := string(s.Data[serving.SecretKeyNextClientSecret])
	if next == "" || string(s.Data[serving.SecretKeyClientSecret]) != "first" || s.Data[serving.SecretKeyPreviousClientSecret] != nil {
		t.Fatalf("first step: %v, want the new secret in next-client-secret only", s.Data)
	}
	if got := nextSecretDue(s, activation); !got.Equal(now.Add(activation)) {
		t.Errorf("next secret due %v, want %v", got, now.Add(activation))
	}
	if changed, _ := rotateClientSecret(app, s, now.Add(activation-time.Second), activation); changed {
		t.Errorf("handed out before its activation")
	}
	if changed, _ := rotateClientSecret(app, s, now.Add(activation), activation); !changed ||
		string(s.Data[serving.SecretKeyClientSecret]) != next || string(s.Data[serving.SecretKeyPreviousClientSecret]) != "first" ||
		s.Data[serving.SecretKeyNextClientSecret] != nil {
		t.Fatalf("second step: %v", s.Data)
	}
	promoted := now.Add(activation)
	if got := serving.PreviousSecretValidUntil(s); !got.Equal(promoted.Add(serving.ClientSecretOverlap)) {
		t.Errorf("previous valid until %v, want %v", got, promoted.Add(serving.ClientSecretOverlap))
	}
	if changed, _ := rotateClientSecret(app, s, promoted.Add(time.Hour), activation); changed || string(s.Data[serving.SecretKeyClientSecret]) != next {
		t.Errorf("the same annotation value rotated again")
	}
	if changed, _ := rotateClientSecret(app, s, promoted.Add(serving.ClientSecretOverlap), activation); !changed || s.Data[serving.SecretKeyPreviousClientSecret] != nil ||
		s.Annotations[serving.AnnotationPreviousValidUntil] != "" || !serving.PreviousSecretValidUntil(s).IsZero() {
		t.Errorf("at the deadline the previous secret stays: %v %v", s.Data, s.Annotations)
	}
	s.Data[serving.SecretKeyPreviousClientSecret] = []byte("stray")
	s.Annotations[serving.AnnotationPreviousValidUntil] = "tomorrow"
	if changed, _ := rotateClientSecret(app, s, now, activation); !changed || s.Data[serving.SecretKeyPreviousClientSecret] != nil {
		t.Errorf("a previous secret without a readable deadline stays: %v", s.Data)
	}
}
