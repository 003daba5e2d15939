// Package store holds the issuer's durable state: SSO sessions,
// authorization codes, refresh-token families, revoked access tokens and
// users' consents to third-party applications.
// Protocol code sees only the Store interface; backends live in their own
// packages (memory: one process, tests and throwaway tenants; kube: custom
// resources of state.idtenant.dev, shared by every replica) and all pass the
// same conformance cases (package storetest).
//
// The interface is shaped for a SQL backend too: a record is read with its
// version, and every state transition is one conditional write (Create fails
// if the key exists, Update and Delete fail unless the version is still the
// one read). Two replicas racing on one code or one refresh token therefore
// produce exactly one winner, whatever the backend.
//
// Keys are keyed digests of the secrets handed to browsers and clients
// (cookies, codes, refresh tokens; see Key), never the secrets themselves:
// whoever reads the store cannot replay what is in it, and an issuer without
// the tenant's state key cannot even find a record.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a record does not exist (or was collected).
var ErrNotFound = errors.New("record not found")

// ErrConflict is returned when a conditional write lost: Create of a key
// that exists, Update or Delete of a record whose version changed since it
// was read. The caller reads again and decides anew.
var ErrConflict = errors.New("record changed concurrently")

// ErrQuota is returned when a create would exceed the state quota (the
// Kubernetes store's ResourceQuota, spec.state.quota). It is unavailable
// too: 503, nothing issued; what is stored keeps working.
var ErrQuota = errors.New("the state quota is exhausted")

// IsUnavailable reports whether err is a backend failure rather than an
// answer about a record: the protocol answers it with 503 and Retry-After,
// and issues nothing whose state it could not write.
func IsUnavailable(err error) bool {
	return err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict)
}

// Record is a stored value with the version it was read at.
type Record[T any] struct {
	// Key names the record (a keyed digest, see Key).
	Key string
	// Version is opaque: a Kubernetes resourceVersion, a counter, a row
	// version. Update and Delete succeed only while it is current.
	Version string
	Value   T
}

// Table is one kind of record. Every method is one atomic step.
type Table[T any] interface {
	// Get returns the record stored under key, or ErrNotFound.
	Get(ctx context.Context, key string) (Record[T], error)
	// Create stores a new record; ErrConflict if key exists.
	Create(ctx context.Context, key string, value T) (Record[T], error)
	// Update replaces rec.Value if the stored version is still rec.Version
	// (ErrConflict otherwise, ErrNotFound if the record is gone) and
	// returns the record at its new version.
	Update(ctx context.Context, rec Record[T]) (Record[T], error)
	// Delete removes the record if its version is still version (any
	// version when empty). Deleting a missing record is not an error.
	Delete(ctx context.Context, key, version string) error
}

// Store is a tenant's issuer state.
type Store interface {
	Sessions() Table[Session]
	Codes() Table[Code]
	Families() Table[RefreshFamily]
	Revocations() Table[Revocation]
	Consents() Table[Consent]
}

// Session is a user's single-sign-on session at the issuer. Its deadlines
// are not stored: they follow the configuration in force at each check
// (lifetime.Session.DeadlinesOf(AuthTime, LastActivity)).
type Session struct {
	// SID is the public session id put in tokens ("sid"); unlike the
	// cookie it proves nothing.
	SID     string `json:"sid"`
	Subject string `json:"subject"`
	// AuthTime is when the user logged in; the absolute timeout counts
	// from it.
	AuthTime time.Time `json:"authTime"`
	// LastActivity is the last request made on the user's behalf; the
	// inactivity timeout counts from it.
	LastActivity time.Time `json:"lastActivity"`
	// UserFingerprint identifies the user's directory entry at login
	// (username and password hash, keyed): when the user is removed or
	// the password changes, it no longer matches and the session ends.
	UserFingerprint string `json:"userFingerprint"`
	// Identity is a user of an upstream connection, sealed (see
	// issuer/identity.go); empty for local users.
	Identity string `json:"identity,omitempty"`
	// Families are the record keys of the refresh families bound to this
	// session (at most one per application and audience), deleted with
	// it when it ends.
	Families []string `json:"families,omitempty"`
}

// Code is an authorization code's grant. The record is created when the
// code is issued and updated once, when it is redeemed; it stays until it
// expires so that a replay is recognised.
type Code struct {
	ClientID            string    `json:"clientID"`
	RedirectURI         string    `json:"redirectURI"`
	CodeChallenge       string    `json:"codeChallenge,omitempty"`
	CodeChallengeMethod string    `json:"codeChallengeMethod,omitempty"`
	Nonce               string    `json:"nonce,omitempty"`
	Scopes              []string  `json:"scopes,omitempty"`
	Audience            string    `json:"audience,omitempty"`
	SessionKey          string    `json:"sessionKey"`
	SID                 string    `json:"sid"`
	Subject             string    `json:"subject"`
	AuthTime            time.Time `json:"authTime"`
	ExpiresAt           time.Time `json:"expiresAt"`
	// RedeemedAt is when the code was exchanged; zero until then.
	RedeemedAt time.Time `json:"redeemedAt,omitzero"`
	// What the redemption issued, so that a replay by the same client can
	// revoke it (RFC 6749 section 4.1.2): the refresh token family and the
	// access token's jti and expiry.
	Family    string    `json:"family,omitempty"`
	AccessJTI string    `json:"accessJTI,omitempty"`
	AccessExp time.Time `json:"accessExp,omitzero"`
}

// RefreshFamily is one grant's chain of refresh tokens: however often it
// rotates, it is one record holding the digests of the current token and
// of the one it replaced. Tokens carry the family's key, so a lookup is one
// read; any older token of the family presented again is a replay.
type RefreshFamily struct {
	ClientID string   `json:"clientID"`
	Subject  string   `json:"subject"`
	Scopes   []string `json:"scopes,omitempty"`
	Audience string   `json:"audience,omitempty"`
	// SessionKey binds the family to a session; empty for offline access.
	SessionKey      string    `json:"sessionKey,omitempty"`
	SID             string    `json:"sid,omitempty"`
	AuthTime        time.Time `json:"authTime"`
	UserFingerprint string    `json:"userFingerprint"`
	// Identity is the session's Identity at the grant: an offline family
	// outlives its session.
	Identity string `json:"identity,omitempty"`
	// GrantedAt is when the family began (the code exchange); the absolute
	// lifetime counts from it and rotation does not extend it.
	GrantedAt time.Time `json:"grantedAt"`
	// LastUsed is when the current token was issued or, without rotation,
	// last used; the inactivity lifetime counts from it.
	LastUsed time.Time `json:"lastUsed"`
	// Current is the keyed digest of the token that works now.
	Current string `json:"current"`
	// Previous is the digest of the token Current replaced, and RotatedAt
	// when; within the application's reuseInterval it still yields Current
	// (a client's network retry), never a parallel branch.
	Previous  string    `json:"previous,omitempty"`
	RotatedAt time.Time `json:"rotatedAt,omitzero"`
	// Grant identifies the grant the record holds now: a family's record
	// is a slot (one per session, application and audience, or one of a
	// user's offline grants with an application) that successive grants
	// take over, and every token carries its grant. A token of another
	// grant is refused without being taken for reuse, and revokes nothing:
	// its holder was replaced, not robbed. Empty for families from before
	// slots, whose tokens carry none.
	Grant string `json:"grant,omitempty"`
	// RevokedAt is when the family was revoked (reuse detected, the client
	// revoked it, its session ended); zero while it is live.
	RevokedAt time.Time `json:"revokedAt,omitzero"`
	// ExpiresAt is when the record may be collected.
	ExpiresAt time.Time `json:"expiresAt"`
}

// Revocation records a revoked access token (by jti) until it expires.
type Revocation struct {
	ClientID  string    `json:"clientID,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Consent is what one user allowed one third-party application to
// receive (Application spec.thirdParty), kept under the keyed digest of the
// user and the application until it expires and the user is asked again.
type Consent struct {
	ClientID string `json:"clientID"`
	Subject  string `json:"subject"`
	// Scopes are the scopes allowed: identity scopes as they are, an
	// API's scopes as "<audience> <scope>".
	Scopes    []string  `json:"scopes,omitempty"`
	GrantedAt time.Time `json:"grantedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// Expiry of each record kind except sessions (whose deadlines depend on the
// tenant's configuration): the instant from which it may be collected.
func (c Code) Expiry() time.Time          { return c.ExpiresAt }
func (f RefreshFamily) Expiry() time.Time { return f.ExpiresAt }
func (r Revocation) Expiry() time.Time    { return r.ExpiresAt }
func (c Consent) Expiry() time.Time       { return c.ExpiresAt }

// Kind names a record kind, for metrics, logs and collection.
type Kind string

const (
	KindSession    Kind = "session"
	KindCode       Kind = "code"
	KindFamily     Kind = "refreshFamily"
	KindRevocation Kind = "revocation"
	KindConsent    Kind = "consent"
)

// Kinds lists every record kind.
// (an array, so that per-kind tallies can be arrays of its length).
var Kinds = [...]Kind{KindSession, KindCode, KindFamily, KindRevocation, KindConsent}
