// Package store holds the issuer's server-side state: SSO sessions, pending
// authorization requests, authorization codes, refresh tokens and revoked
// access tokens. Protocol code sees only the Store interface, so a durable,
// shared implementation can replace Memory without touching it.
//
// Keys are SHA-256 digests of the secrets handed to browsers and clients
// (cookies, codes, refresh tokens), never the secrets themselves: whoever
// reads the store cannot replay what is in it.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a record does not exist (or was collected).
var ErrNotFound = errors.New("not found")

// ErrCodeReused is returned by TakeCode for a code that was already taken;
// the returned Code then says which tokens its first use issued.
var ErrCodeReused = errors.New("authorization code already used")

// ErrFull is returned when a store refuses more records of a kind that
// anyone can create without logging in (pending authorization requests),
// so a flood of requests cannot exhaust memory.
var ErrFull = errors.New("store full")

// Session is a user's single-sign-on session at the issuer.
type Session struct {
	// SID is the public session id put in ID tokens ("sid"); unlike the
	// cookie it proves nothing.
	SID          string
	Subject      string
	AuthTime     time.Time
	LastActivity time.Time
}

// Pending is an authorization request waiting for the user to log in.
type Pending struct {
	// Request is the validated authorization request, encoded by the
	// protocol layer; the store keeps it opaque.
	Request   []byte
	CSRF      string
	ExpiresAt time.Time
}

// Code is an authorization code's grant.
type Code struct {
	ClientID            string
	RedirectURI         string
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	Scopes              []string
	APIRef              string
	SessionKey          string
	SID                 string
	Subject             string
	AuthTime            time.Time
	ExpiresAt           time.Time
	// UsedAt is when the code was redeemed; zero until then.
	UsedAt time.Time
	// What the redemption issued, so a replay can revoke it (RFC 6749
	// section 4.1.2): the refresh token family and the access token's jti.
	Family    string
	AccessJTI string
	AccessExp time.Time
}

// Refresh is one refresh token of a family (the chain of rotations of one
// grant).
type Refresh struct {
	Family   string
	ClientID string
	Subject  string
	Scopes   []string
	APIRef   string
	// SessionKey binds the token to a session; empty for offline access.
	SessionKey string
	SID        string
	AuthTime   time.Time
	// GrantedAt is when the family began (the code exchange); the absolute
	// lifetime counts from it.
	GrantedAt time.Time
	// LastUsed is when this token was issued or, without rotation, last used.
	LastUsed time.Time
	// RotatedAt is when this token was exchanged for its successor; zero
	// while it is the family's current token.
	RotatedAt time.Time
	// ExpiresAt is when the record may be collected.
	ExpiresAt time.Time
}

// Store is the issuer's state. Implementations must be safe for concurrent
// use; every method is one atomic step.
type Store interface {
	PutSession(ctx context.Context, key string, s Session) error
	GetSession(ctx context.Context, key string) (Session, error)
	// TouchSession records activity at the given time.
	TouchSession(ctx context.Context, key string, at time.Time) error
	DeleteSession(ctx context.Context, key string) error

	PutPending(ctx context.Context, id string, p Pending) error
	GetPending(ctx context.Context, id string) (Pending, error)
	DeletePending(ctx context.Context, id string) error

	PutCode(ctx context.Context, key string, c Code) error
	// TakeCode redeems a code at now: codes are single use, so a second
	// TakeCode of the same key returns the code with ErrCodeReused. The
	// record stays until it expires so a replay is recognised.
	TakeCode(ctx context.Context, key string, now time.Time) (Code, error)
	// RecordCodeTokens notes what a code's redemption issued.
	RecordCodeTokens(ctx context.Context, key, family, accessJTI string, accessExp time.Time) error

	PutRefresh(ctx context.Context, key string, r Refresh) error
	// GetRefresh returns a refresh token without changing it.
	GetRefresh(ctx context.Context, key string) (Refresh, error)
	// UseRefresh returns the token as it was and, if it was current, marks
	// it rotated at now (when rotate) or records the use (when not). A
	// caller that sees a non-zero RotatedAt in the result knows the token
	// had already been exchanged.
	UseRefresh(ctx context.Context, key string, now time.Time, rotate bool) (Refresh, error)
	// RevokeFamily makes every token of the family unusable.
	RevokeFamily(ctx context.Context, family string, until time.Time) error
	FamilyRevoked(ctx context.Context, family string) (bool, error)

	// Revoke records an access token id (jti) as revoked until its exp.
	Revoke(ctx context.Context, jti string, until time.Time) error
	Revoked(ctx context.Context, jti string) (bool, error)

	// Collect deletes records that expired before now, and sessions for
	// which ended reports true (their deadlines depend on configuration the
	// store does not know). It returns the collected sessions' count.
	Collect(ctx context.Context, now time.Time, ended func(Session) bool) (int, error)
}
