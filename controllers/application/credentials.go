package application

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/idtenant/idtenant/api/v1alpha1"
	serving "github.com/idtenant/idtenant/controllers/serving"
	status "github.com/idtenant/idtenant/controllers/status"
)

// reconcileCredentials owns the credentials Secret. A confidential client's
// secret is generated once, with 256 bits from crypto/rand, and never
// replaced while the Secret exists: rotating it by accident would lock the
// application out. Public clients have no secret; a Secret left from when the
// application was confidential is deleted.
func (r *ApplicationReconciler) reconcileCredentials(ctx context.Context, app *v1alpha1.Application, obs *ApplicationObservation) error {
	if obs.tenant == nil {
		return nil
	}
	key := client.ObjectKey{Namespace: app.Namespace, Name: serving.CredentialsSecretName(app)}
	existing := &corev1.Secret{}
	// The cache holds only Secrets labelled as ours. A confidential client
	// whose Secret it lacks tries to create one: creating never overwrites,
	// and only when a Secret of that name exists (someone else's, or ours
	// not cached yet) is it read live. So thousands of new Applications
	// cost one write each, not a read and a write, and public clients,
	// which only look for a Secret they own, never read past the cache.
	err := r.Get(ctx, key, existing)
	if apierrors.IsNotFound(err) && serving.IsConfidential(app.Spec.Type) {
		created, cerr := r.createCredentials(ctx, app, obs.tenant, key)
		if cerr != nil {
			return cerr
		}
		if created {
			obs.credentialsSecret = key.Name
			return nil
		}
		err = r.APIReader.Get(ctx, key, existing)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("getting credentials Secret %s: %w", key, err)
	}
	found := err == nil
	owned := found && metav1.IsControlledBy(existing, app)

	if !serving.IsConfidential(app.Spec.Type) {
		if owned {
			if err := r.Delete(ctx, existing); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting credentials Secret %s of a public client: %w", key, err)
			}
		}
		return nil
	}
	if !found {
		// Created and deleted again between our two requests.
		return fmt.Errorf("credentials Secret %s disappeared while being created, will re-check", key)
	}
	if !owned {
		// Waiting, not stalled: the fix is deleting or renaming that Secret,
		// which the label-filtered cache cannot see, so recheck on a timer.
		obs.credentialsProblem = &status.Problem{Reason: v1alpha1.ReasonCredentialsError,
			Message: fmt.Sprintf("Secret %s exists and is not owned by this Application; rename or delete it so the operator can create the client credentials there", key)}
		return nil
	}
	obs.credentialsSecret = key.Name
	if err := r.refreshCredentials(ctx, app, obs, existing); err != nil {
		return err
	}
	obs.previousSecretValidUntil = serving.PreviousSecretValidUntil(existing)
	obs.nextSecretDue = nextSecretDue(existing, r.activation())
	if why := serving.WeakClientSecret(existing.Data[serving.SecretKeyClientSecret]); why != "" {
		// Never the secret itself, only how it falls short.
		obs.credentialsProblem = &status.Problem{Reason: v1alpha1.ReasonWeakClientSecret, Stalls: true,
			Message: fmt.Sprintf("Secret %s key %s: %s. The issuer keeps only a SHA-256 digest of client secrets, quick to check and, for a weak secret, quick to guess, so it does not serve this Application until the secret carries at least %d bits: write 32 random bytes (openssl rand -base64 32), or delete the key and the operator generates one",
				key, serving.SecretKeyClientSecret, why, serving.MinClientSecretBits)}
	}
	return nil
}

// createCredentials creates the credentials Secret key of app with a new
// client secret; false when a Secret of that name already exists.
func (r *ApplicationReconciler) createCredentials(ctx context.Context, app *v1alpha1.Application, tenant *v1alpha1.Tenant, key client.ObjectKey) (bool, error) {
	secret, err := newClientSecret()
	if err != nil {
		return false, err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: key.Name, Namespace: key.Namespace,
			Labels: map[string]string{serving.LabelManagedBy: serving.ManagedBy, serving.LabelApplication: app.Name},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			serving.SecretKeyClientID:     []byte(serving.ClientID(app)),
			serving.SecretKeyClientSecret: []byte(secret),
			serving.SecretKeyIssuerURL:    []byte(tenant.Spec.IssuerURL),
		},
	}
	if want := app.Annotations[v1alpha1.AnnotationRotateClientSecret]; want != "" {
		// A fresh secret answers the rotation asked for so far.
		s.Annotations = map[string]string{serving.AnnotationRotation: want}
	}
	if err := controllerutil.SetControllerReference(app, s, r.Scheme()); err != nil {
		return false, fmt.Errorf("owning credentials Secret %s: %w", key, err)
	}
	switch err := r.Create(ctx, s); {
	case err == nil:
		return true, nil
	case apierrors.IsAlreadyExists(err):
		return false, nil
	default:
		return false, fmt.Errorf("creating credentials Secret %s: %w", key, err)
	}
}

// NewClientSecret returns 256 random bits, base64url without padding. A draw
// the strength estimate would refuse (no upper- or no lower-case letter, about
// once in three billion) is drawn again, so generated secrets always pass.
func newClientSecret() (string, error) {
	for {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("generating client secret: %w", err)
		}
		if s := base64.RawURLEncoding.EncodeToString(b); serving.WeakClientSecret([]byte(s)) == "" {
			return s, nil
		}
	}
}

// refreshCredentials keeps the non-secret fields of an existing credentials
// Secret current (a Tenant's issuer URL can change). The client secret is
// generated when the key is missing or empty, and replaced only when the
// Application's rotation annotation asks (rotateClientSecret).
func (r *ApplicationReconciler) refreshCredentials(ctx context.Context, app *v1alpha1.Application, obs *ApplicationObservation, s *corev1.Secret) error {
	want := map[string]string{serving.SecretKeyClientID: serving.ClientID(app), serving.SecretKeyIssuerURL: obs.tenant.Spec.IssuerURL}
	patch := client.MergeFrom(s.DeepCopy())
	changed := false
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	if len(s.Data[serving.SecretKeyClientSecret]) == 0 {
		secret, err := newClientSecret()
		if err != nil {
			return err
		}
		s.Data[serving.SecretKeyClientSecret] = []byte(secret)
		changed = true
	}
	before := string(s.Data[serving.SecretKeyClientSecret])
	rotated, err := rotateClientSecret(app, s, obs.now, r.activation())
	if err != nil {
		return err
	}
	changed = changed || rotated
	for k, v := range want {
		if string(s.Data[k]) != v {
			s.Data[k] = []byte(v)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := r.Patch(ctx, s, patch); err != nil {
		return fmt.Errorf("updating credentials Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if before != "" && before != string(s.Data[serving.SecretKeyClientSecret]) && r.Recorder != nil {
		// Never a secret: only that it changed and until when the old one works.
		r.Recorder.Eventf(app, nil, corev1.EventTypeNormal, "ClientSecretRotated", "Rotate",
			"Generated a new client secret in Secret %s; the previous one is accepted until %s", s.Name, s.Annotations[serving.AnnotationPreviousValidUntil])
	}
	return nil
}

// rotateClientSecret applies the Application's rotation annotation to its
// credentials Secret s at now, in two steps so that neither side is ever
// ahead of the issuer: a value not yet honoured puts a new secret in
// next-client-secret (the issuer accepts it from its next configuration;
// applications do not read that key); activation later it becomes
// client-secret, and the one it replaces previous-client-secret, valid for
// serving.ClientSecretOverlap. A previous secret past its overlap (or
// without a readable deadline) is removed. It reports whether s changed.
func rotateClientSecret(app *v1alpha1.Application, s *corev1.Secret, now time.Time, activation time.Duration) (bool, error) {
	changed := false
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	if want := app.Annotations[v1alpha1.AnnotationRotateClientSecret]; want != "" && want != s.Annotations[serving.AnnotationRotation] &&
		len(s.Data[serving.SecretKeyNextClientSecret]) == 0 {
		secret, err := newClientSecret()
		if err != nil {
			return false, err
		}
		s.Data[serving.SecretKeyNextClientSecret] = []byte(secret)
		s.Annotations[serving.AnnotationRotation] = want
		s.Annotations[serving.AnnotationNextSince] = now.UTC().Format(time.RFC3339)
		changed = true
	}
	if next := s.Data[serving.SecretKeyNextClientSecret]; len(next) > 0 {
		since, err := time.Parse(time.RFC3339, s.Annotations[serving.AnnotationNextSince])
		if err != nil || !now.Before(since.Add(activation)) {
			s.Data[serving.SecretKeyPreviousClientSecret] = s.Data[serving.SecretKeyClientSecret]
			s.Data[serving.SecretKeyClientSecret] = next
			delete(s.Data, serving.SecretKeyNextClientSecret)
			delete(s.Annotations, serving.AnnotationNextSince)
			s.Annotations[serving.AnnotationPreviousValidUntil] = now.Add(serving.ClientSecretOverlap).UTC().Format(time.RFC3339)
			changed = true
		}
	}
	_, hasPrevious := s.Data[serving.SecretKeyPreviousClientSecret]
	if until := serving.PreviousSecretValidUntil(s); hasPrevious && !now.Before(until) {
		delete(s.Data, serving.SecretKeyPreviousClientSecret)
		hasPrevious, changed = false, true
	}
	if _, ok := s.Annotations[serving.AnnotationPreviousValidUntil]; ok && !hasPrevious {
		delete(s.Annotations, serving.AnnotationPreviousValidUntil)
		changed = true
	}
	return changed, nil
}

// nextSecretDue is when s's next client secret becomes client-secret;
// zero without one.
func nextSecretDue(s *corev1.Secret, activation time.Duration) time.Time {
	if len(s.Data[serving.SecretKeyNextClientSecret]) == 0 {
		return time.Time{}
	}
	since, _ := time.Parse(time.RFC3339, s.Annotations[serving.AnnotationNextSince])
	return since.Add(activation)
}
