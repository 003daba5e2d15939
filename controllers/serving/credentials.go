package serving

import (
	"time"

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

	// AnnotationRotation on the credentials Secret is the value of the
	// Application's v1alpha1.AnnotationRotateClientSecret last honoured.
	AnnotationRotation = "idtenant.dev/client-secret-rotation"
	// AnnotationPreviousValidUntil on the credentials Secret is when the
	// previous secret stops working (RFC 3339).
	AnnotationPreviousValidUntil = "idtenant.dev/previous-client-secret-valid-until"

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

// ClientSecretOverlap is how long a rotated-out client secret keeps
// working beside the new one: a day for every replica of the application
// to read the new one from the Secret (a mounted Secret is refreshed
// within a minute or two; an environment variable needs a restart).
const ClientSecretOverlap = 24 * time.Hour

// CredentialsRecheck is how often an Application blocked by a foreign Secret
// in its credentials' place looks again.
const CredentialsRecheck = 10 * time.Second

// ClientID is the OAuth client_id of an Application: "<name>.<namespace>".
// Namespaces cannot contain dots, so the split is unambiguous.
func ClientID(app *v1alpha1.Application) string {
	return app.Name + "." + app.Namespace
}
