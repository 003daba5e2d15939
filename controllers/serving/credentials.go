package serving

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// Keys of the credentials Secret, named like the OAuth parameters.
const (
	SecretKeyClientID     = "client-id"
	SecretKeyClientSecret = "client-secret"
	SecretKeyIssuerURL    = "issuer-url"
	// SecretKeyPreviousClientSecret holds, after a rotation, the secret
	// it replaced, accepted until AnnotationPreviousValidUntil.
	SecretKeyPreviousClientSecret = "previous-client-secret"
	// SecretKeyNextClientSecret holds, during a rotation, the new secret
	// the issuer already accepts, until it becomes client-secret.
	SecretKeyNextClientSecret = "next-client-secret"

	// AnnotationRotation on the credentials Secret is the value of the
	// Application's v1alpha1.AnnotationRotateClientSecret last honoured.
	AnnotationRotation = "idtenant.dev/client-secret-rotation"
	// AnnotationPreviousValidUntil on the credentials Secret is when the
	// previous secret stops working (RFC 3339).
	AnnotationPreviousValidUntil = "idtenant.dev/previous-client-secret-valid-until"
	// AnnotationNextSince on the credentials Secret is when its
	// next-client-secret was generated (RFC 3339).
	AnnotationNextSince = "idtenant.dev/next-client-secret-since"

	LabelManagedBy   = "app.kubernetes.io/managed-by"
	LabelApplication = "idtenant.dev/application"
	ManagedBy        = "idtenant"
)

// CredentialsSecretName is the Secret holding a confidential client's
// credentials.
func CredentialsSecretName(app *v1alpha1.Application) string {
	return app.Name + "-oidc-client"
}

// IsConfidential reports whether the type keeps a client secret.
func IsConfidential(t v1alpha1.ApplicationType) bool {
	return t == v1alpha1.RegularWeb || t == v1alpha1.MachineToMachine
}

// PreviousSecretValidUntil is when the previous client secret of a
// credentials Secret stops working; zero without one (or without a
// readable deadline, which ends it at once).
func PreviousSecretValidUntil(s *corev1.Secret) time.Time {
	if len(s.Data[SecretKeyPreviousClientSecret]) == 0 {
		return time.Time{}
	}
	until, _ := time.Parse(time.RFC3339, s.Annotations[AnnotationPreviousValidUntil])
	return until
}

// ClientSecretOverlap is how long a rotated-out client secret keeps
// working beside the new one: a day for every replica of the application
// to read the new one from the Secret (a mounted Secret is refreshed
// within a minute or two; an environment variable needs a restart).
const ClientSecretOverlap = 24 * time.Hour

// ClientSecretActivation is how long a rotation's new secret waits in
// next-client-secret — already in the issuer's configuration, not yet
// where applications read it — before it becomes client-secret: issuer
// replicas follow their configuration within seconds, so no application
// presents a secret the issuer does not know yet.
const ClientSecretActivation = 2 * time.Minute

// CredentialsRecheck is how often an Application blocked by a foreign Secret
// in its credentials' place looks again.
const CredentialsRecheck = 10 * time.Second

// ClientID is the OAuth client_id of an Application: "<name>.<namespace>".
// Namespaces cannot contain dots, so the split is unambiguous.
func ClientID(app *v1alpha1.Application) string {
	return app.Name + "." + app.Namespace
}
