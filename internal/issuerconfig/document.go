// Package issuerconfig is the contract between the operator and the issuer,
// imported by both sides and owned by neither (as zitadel/oidc's pkg/oidc is
// shared by its provider and its client):
//
//   - document.go: the issuer's whole configuration, one versioned document
//     per Tenant that the operator renders and the issuer loads and swaps
//     atomically;
//   - secrets.go: how that document travels, gzip'd and sharded over
//     Secrets with a manifest digest, and how it is read back;
//   - leases.go: how each replica reports the generation it serves (Lease
//     slots, their names and annotations, liveness);
//   - flags.go and names.go: the issuer's command line and the names and
//     labels derived from the Tenant's name.
//
// The operator's side is internal/render, the issuer's side is
// internal/follow; neither imports the other. This package must not import
// either, nor any client: it holds data shapes and pure functions only.
//
// The document carries the Tenant, Application and API specs exactly as
// declared, not precomputed lifetimes: the issuer runs them through
// internal/lifetime, the same code that writes status, so the issuer and the
// status cannot disagree.
package issuerconfig

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

// APIVersion identifies the document format; the issuer refuses others.
const APIVersion = "issuer.idtenant.dev/v1"

// Document is one generation of a tenant's issuer configuration.
type Document struct {
	// APIVersion must be APIVersion.
	APIVersion string `json:"apiVersion"`
	// Generation increases by one with every change the operator renders.
	Generation int64 `json:"generation"`
	// Tenant is the issuer's own Tenant.
	Tenant Object[v1alpha1.TenantSpec] `json:"tenant"`
	// Applications are the clients, with credentials material.
	Applications []Application `json:"applications,omitempty"`
	// APIs are the resource servers.
	APIs []Object[v1alpha1.APISpec] `json:"apis,omitempty"`
	// Users is the tenant's user directory.
	Users []User `json:"users,omitempty"`
	// Keys are the signing keys; every key is published in the JWKS. There
	// is one active key per algorithm in use (the Tenant's and any API's).
	Keys []Key `json:"keys,omitempty"`
	// TenantUID is the Tenant's metadata.uid: state records the issuer
	// creates are owned by it (ownerReferences), so deleting the Tenant
	// deletes them.
	TenantUID types.UID `json:"tenantUID,omitempty"`
	// StateKey is the tenant's 256-bit state key, generated once by the
	// operator and never rotated (a new key would orphan every stored
	// record). The issuer derives state record names from it (keyed
	// digests of cookies, codes and token ids). Secret: never logged,
	// never in status.
	StateKey []byte `json:"stateKey,omitempty"`
	// SealingKeys encrypt what the issuer seals (pending sign-in requests,
	// the state sent to upstreams, upstream users' attributes in records)
	// and key the sign-in forms' CSRF tokens; unlike the state key they
	// rotate. The first that is not Pending is current and seals; those
	// after it, superseded,
	// still open what they sealed: short-lived values (pending requests)
	// for a few minutes after they were superseded, sealed identities in
	// records until the operator retires the key. Empty (documents of
	// older operators): the state key seals, as before. Secret.
	SealingKeys []SealingKey `json:"sealingKeys,omitempty"`
	// ConnectionSecrets are the client secrets idtenant authenticates
	// with at the upstreams of the Tenant's spec.connections, by
	// connection name, read from each clientSecretRef. Secret: never
	// logged, never in status.
	ConnectionSecrets map[string]string `json:"connectionSecrets,omitempty"`
	// ConnectionEpochs are, by connection name, the Tenant generation from
	// which the operator has seen the connection without a break
	// (status.connections[].since). Part of the fingerprint its users'
	// sessions carry: a connection removed and added back starts a new
	// epoch, so the sessions it had stay ended.
	ConnectionEpochs map[string]int64 `json:"connectionEpochs,omitempty"`
	// StateDatabase is where a Tenant with the PostgreSQL state store
	// keeps its records (--store=postgresql), read by the operator from
	// the Secret spec.state.postgreSQL.secretRef names. Secret: its URL
	// carries the password.
	StateDatabase *StateDatabase `json:"stateDatabase,omitempty"`
}

// StateDatabase is a Tenant's PostgreSQL state store.
type StateDatabase struct {
	// URL is the connection URL. Secret.
	URL string `json:"url"`
	// Schema holds the Tenant's tables (migrated by the operator).
	Schema string `json:"schema"`
	// MaxConnections and MinConnections bound each replica's pool.
	MaxConnections int32 `json:"maxConnections,omitempty"`
	MinConnections int32 `json:"minConnections,omitempty"`
}

// ConnectionCallbackPath is where, under the issuer URL, upstream
// connections send users back: register <issuerURL>/login/callback at the
// upstream.
const ConnectionCallbackPath = "/login/callback"

// ConnectionRedirectURI is the redirect URI of a tenant at its upstreams.
func ConnectionRedirectURI(issuerURL string) string {
	return strings.TrimRight(issuerURL, "/") + ConnectionCallbackPath
}

// SealingKey is one key of the sealing ring.
type SealingKey struct {
	// ID names the key in what it sealed: 1 to 8 of [a-z0-9]. The empty ID
	// stands for the state key itself, which sealed everything before the
	// ring existed (Key is then empty).
	ID string `json:"id"`
	// Key is StateKeySize random bytes.
	Key []byte `json:"key,omitempty"`
	// CreatedAt is when the operator generated the key (its rotation
	// counts from it).
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// SupersededAt is when a newer key took over sealing; unset for the
	// current key.
	SupersededAt *time.Time `json:"supersededAt,omitempty"`
	// Pending: a new key on its way to every replica. It opens what it
	// sealed but does not seal yet (the next key does), so that no replica
	// still without it is handed a value it cannot open; the operator makes
	// it current once every replica has had time to load it.
	Pending bool `json:"pending,omitempty"`
}

// StateKeySize is the length of Document.StateKey in bytes.
const StateKeySize = 32

// Object is a declared object reduced to what the issuer needs.
type Object[S any] struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Generation is the object's metadata.generation when rendered: the
	// operator reports the object Ready once a generation holding this
	// spec is served by every issuer replica.
	Generation int64 `json:"generation,omitempty"`
	// RenderedIn is the configuration generation that first held this
	// Generation of the object: once every replica serves RenderedIn, the
	// object's current spec is in force everywhere.
	RenderedIn int64 `json:"renderedIn,omitempty"`
	// EffectiveDigest identifies the effective lifetimes the operator
	// computed for the object from this document (its own spec, the
	// Tenant's and its APIs'): status may call them effective once a
	// generation holding this digest is served.
	EffectiveDigest string `json:"effectiveDigest,omitempty"`
	Spec            S      `json:"spec"`
}

// Ref is "<namespace>/<name>", the form status uses.
func (o Object[S]) Ref() string { return o.Namespace + "/" + o.Name }

// Application is a client as the issuer serves it.
type Application struct {
	Object[v1alpha1.ApplicationSpec]
	// ClientID is the OAuth client_id.
	ClientID string `json:"clientID"`
	// SecretSHA256 is the hex SHA-256 digest of the client secret of a
	// confidential client. Secrets carry at least 256 bits of entropy, so a
	// fast digest is safe and keeps client authentication in microseconds;
	// the secret itself never leaves the credentials Secret.
	SecretSHA256 string `json:"secretSHA256,omitempty"`
	// PreviousSecret is the client secret a rotation replaced, still
	// accepted until its ValidUntil so that the application's replicas
	// move to the new one without an outage.
	PreviousSecret *PreviousSecret `json:"previousSecret,omitempty"`
	// NextSecretSHA256 is the hex SHA-256 digest of a rotation's new
	// client secret, accepted before the application is handed it.
	NextSecretSHA256 string `json:"nextSecretSHA256,omitempty"`
}

// PreviousSecret is a replaced client secret during its overlap.
type PreviousSecret struct {
	// SHA256 is the hex SHA-256 digest of the replaced secret.
	SHA256 string `json:"sha256"`
	// ValidUntil is when the issuer stops accepting it.
	ValidUntil time.Time `json:"validUntil"`
}

// User is one entry of the user directory.
type User struct {
	// ID is the user's stable, opaque subject ("sub"): never the
	// username, which is personal data and may change. Empty in documents
	// of older operators: the username is then the subject.
	ID string `json:"id,omitempty"`
	// Username is what the user types on the login page.
	Username string `json:"username"`
	// PasswordHash is a bcrypt hash.
	PasswordHash string `json:"passwordHash"`
	// Email, EmailVerified, Name and Groups are released with the email,
	// profile and groups scopes (OpenID Connect Core 5.4).
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"emailVerified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Groups        []string `json:"groups,omitempty"`
}

// Subject is the user's "sub": the ID, or the username without one.
func (u User) Subject() string {
	if u.ID != "" {
		return u.ID
	}
	return u.Username
}

// KeyRole says what a key is used for during rotation.
type KeyRole string

const (
	// KeyActive signs new tokens.
	KeyActive KeyRole = "active"
	// KeyNext is published so clients cache it before it signs.
	KeyNext KeyRole = "next"
	// KeyRetiring no longer signs but verifies tokens it signed until they
	// expire.
	KeyRetiring KeyRole = "retiring"
)

// Key is a signing key.
type Key struct {
	// ID is the JWS "kid".
	ID string `json:"id"`
	// Algorithm is RS256 or ES256.
	Algorithm v1alpha1.SigningAlgorithm `json:"algorithm"`
	// Role is active, next or retiring.
	Role KeyRole `json:"role"`
	// PrivateKeyPEM is the PKCS#8 PEM private key of an active or next key.
	// A retiring key never signs again, so its private half is dropped
	// (from the signing-keys Secret and from this document) the moment it
	// retires: a leaked configuration cannot mint tokens with it.
	PrivateKeyPEM string `json:"privateKeyPEM,omitempty"`
	// PublicKeyPEM is the PKIX PEM public key, all a retiring key keeps:
	// enough to publish it in the JWKS and verify the tokens it signed
	// until they expire.
	PublicKeyPEM string `json:"publicKeyPEM,omitempty"`
}

// Parse decodes and validates a document. Unknown fields are an error, so a
// typo never silently drops a setting.
func Parse(data []byte) (*Document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Document
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("decoding issuer config: %w", err)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks what admission cannot: the document's own consistency.
func (d *Document) Validate() error {
	var errs []error
	if d.APIVersion != APIVersion {
		errs = append(errs, fmt.Errorf("apiVersion %q: want %q", d.APIVersion, APIVersion))
	}
	if d.Tenant.Spec.IssuerURL == "" {
		errs = append(errs, errors.New("tenant.spec.issuerURL is empty"))
	}
	clients := map[string]bool{}
	for i, a := range d.Applications {
		if a.ClientID == "" {
			errs = append(errs, fmt.Errorf("applications[%d] (%s): clientID is empty", i, a.Ref()))
		}
		if clients[a.ClientID] {
			errs = append(errs, fmt.Errorf("applications[%d] (%s): duplicate clientID %q", i, a.Ref(), a.ClientID))
		}
		clients[a.ClientID] = true
	}
	audiences := map[string]bool{}
	for i, a := range d.APIs {
		if audiences[a.Spec.Audience] {
			errs = append(errs, fmt.Errorf("apis[%d] (%s): duplicate audience %q", i, a.Ref(), a.Spec.Audience))
		}
		audiences[a.Spec.Audience] = true
	}
	users, subjects := map[string]bool{}, map[string]bool{}
	for i, u := range d.Users {
		if u.Username == "" || users[u.Username] {
			errs = append(errs, fmt.Errorf("users[%d]: empty or duplicate username", i))
		}
		if subjects[u.Subject()] {
			errs = append(errs, fmt.Errorf("users[%d]: duplicate id", i))
		}
		users[u.Username], subjects[u.Subject()] = true, true
	}
	active := 0
	for i, k := range d.Keys {
		switch {
		case k.ID == "":
			errs = append(errs, fmt.Errorf("keys[%d]: id is required", i))
		case k.Role == KeyRetiring && k.PrivateKeyPEM == "" && k.PublicKeyPEM == "":
			errs = append(errs, fmt.Errorf("keys[%d] (%s): a retiring key needs publicKeyPEM", i, k.ID))
		case k.Role != KeyRetiring && k.PrivateKeyPEM == "":
			errs = append(errs, fmt.Errorf("keys[%d] (%s): an %s key needs privateKeyPEM", i, k.ID, k.Role))
		}
		if k.Role == KeyActive {
			active++
		}
	}
	if len(d.Keys) > 0 && active == 0 {
		errs = append(errs, errors.New("keys: no active key"))
	}
	if d.StateKey != nil && len(d.StateKey) != StateKeySize {
		// The length only: the key itself never appears in an error.
		errs = append(errs, fmt.Errorf("stateKey: %d bytes, want %d", len(d.StateKey), StateKeySize))
	}
	if err := ValidateSealingKeys(d.SealingKeys); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// ValidateSealingKeys checks a sealing key ring's shape; never a key's
// bytes in an error.
func ValidateSealingKeys(ring []SealingKey) error {
	var errs []error
	seen := map[string]bool{}
	current := 0 // the key that seals: the first, or the second behind a pending one
	if len(ring) > 0 && ring[0].Pending {
		current = 1
		if len(ring) == 1 {
			errs = append(errs, errors.New("sealingKeys: a pending key needs a current one after it"))
		}
	}
	for i, k := range ring {
		switch {
		case seen[k.ID]:
			errs = append(errs, fmt.Errorf("sealingKeys[%d]: id %q appears twice", i, k.ID))
		case k.ID == "" && len(k.Key) != 0:
			errs = append(errs, fmt.Errorf("sealingKeys[%d]: the state key's entry (empty id) carries no key", i))
		case k.ID != "" && !validSealingKeyID(k.ID):
			errs = append(errs, fmt.Errorf("sealingKeys[%d]: id %q must be 1 to 8 of [a-z0-9]", i, k.ID))
		case k.ID != "" && len(k.Key) != StateKeySize:
			errs = append(errs, fmt.Errorf("sealingKeys[%d] (%s): %d bytes, want %d", i, k.ID, len(k.Key), StateKeySize))
		case k.Pending && (i != 0 || k.ID == "" || k.SupersededAt != nil):
			errs = append(errs, fmt.Errorf("sealingKeys[%d] (%s): only the first key may be pending, a generated one not superseded", i, k.ID))
		case i == current && k.SupersededAt != nil:
			errs = append(errs, fmt.Errorf("sealingKeys[%d] (%s) is the current key: it needs no supersededAt", i, k.ID))
		case i == current && k.ID == "" && current == 0:
			errs = append(errs, errors.New("sealingKeys[0]: the state key's entry (empty id) is current only behind a pending key"))
		case i > current && k.SupersededAt == nil:
			errs = append(errs, fmt.Errorf("sealingKeys[%d] (%s): only one key is current; those after it need supersededAt", i, k.ID))
		}
		seen[k.ID] = true
	}
	return errors.Join(errs...)
}

func validSealingKeyID(id string) bool {
	return len(id) >= 1 && len(id) <= 8 && strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}
