package storetest

import (
	"time"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// The samples of each record kind: a fully populated value, a changed one
// (every field different) and a sparse one (optional fields zero).

func sessionKind(t0 time.Time) kind[store.Session] {
	return kind[store.Session]{
		name:  store.KindSession,
		table: store.Store.Sessions,
		full: store.Session{
			SID: "sid-1", Subject: "alice",
			AuthTime: t0.Add(-time.Hour), LastActivity: t0,
			UserFingerprint: "fp-1", Identity: "sealed-identity-1",
			Families: []string{store.Key([]byte("s"), store.KindFamily, "f1"), store.Key([]byte("s"), store.KindFamily, "f2")},
		},
		changed: store.Session{
			SID: "sid-2", Subject: "bob",
			AuthTime: t0.Add(-2 * time.Hour), LastActivity: t0.Add(time.Minute),
			UserFingerprint: "fp-2", Identity: "sealed-identity-2",
			Families: []string{store.Key([]byte("s"), store.KindFamily, "f3")},
		},
		// Every field of a session but the identity and families is required.
		sparse: store.Session{
			SID: "sid-3", Subject: "carol",
			AuthTime: t0, LastActivity: t0, UserFingerprint: "fp-3",
		},
	}
}

func codeKind(t0 time.Time) kind[store.Code] {
	return kind[store.Code]{
		name:  store.KindCode,
		table: store.Store.Codes,
		full: store.Code{
			ClientID: "shop.web", RedirectURI: "https://shop.example/cb",
			CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", CodeChallengeMethod: "S256",
			Nonce: "n-0S6_WzA2Mj", Scopes: []string{"openid", "profile", "offline_access"},
			Audience: "orders", SessionKey: store.Key([]byte("s"), store.KindSession, "cookie"),
			SID: "sid-1", Subject: "alice",
			AuthTime: t0.Add(-time.Hour), ExpiresAt: t0.Add(time.Minute),
			RedeemedAt: t0.Add(10 * time.Second),
			Family:     store.Key([]byte("s"), store.KindFamily, "family"), AccessJTI: "jti-1",
			AccessExp: t0.Add(time.Hour),
		},
		changed: store.Code{
			ClientID: "shop.cli", RedirectURI: "http://127.0.0.1:8080/",
			CodeChallenge: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", CodeChallengeMethod: "plain",
			Nonce: "other", Scopes: []string{"openid"},
			Audience: "billing", SessionKey: store.Key([]byte("s"), store.KindSession, "cookie-2"),
			SID: "sid-2", Subject: "bob",
			AuthTime: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(2 * time.Minute),
			RedeemedAt: t0.Add(20 * time.Second),
			Family:     store.Key([]byte("s"), store.KindFamily, "family-2"), AccessJTI: "jti-2",
			AccessExp: t0.Add(2 * time.Hour),
		},
		sparse: store.Code{
			ClientID: "shop.web", RedirectURI: "https://shop.example/cb",
			SessionKey: store.Key([]byte("s"), store.KindSession, "cookie"),
			SID:        "sid-1", Subject: "alice",
			AuthTime: t0, ExpiresAt: t0.Add(time.Minute),
		},
	}
}

func familyKind(t0 time.Time) kind[store.RefreshFamily] {
	return kind[store.RefreshFamily]{
		name:  store.KindFamily,
		table: store.Store.Families,
		full: store.RefreshFamily{
			ClientID: "shop.web", Subject: "alice",
			Scopes: []string{"openid", "offline_access"}, Audience: "orders",
			SessionKey: store.Key([]byte("s"), store.KindSession, "cookie"), SID: "sid-1",
			AuthTime: t0.Add(-time.Hour), UserFingerprint: "fp-1", Identity: "sealed-identity-1",
			GrantedAt: t0.Add(-30 * time.Minute), LastUsed: t0,
			Current:  store.Key([]byte("s"), store.KindFamily, "token-2"),
			Previous: store.Key([]byte("s"), store.KindFamily, "token-1"), RotatedAt: t0,
			Grant:     "grant-1",
			RevokedAt: t0.Add(time.Second), ExpiresAt: t0.Add(24 * time.Hour),
		},
		changed: store.RefreshFamily{
			ClientID: "shop.cli", Subject: "bob",
			Scopes: []string{"openid"}, Audience: "billing",
			SessionKey: store.Key([]byte("s"), store.KindSession, "cookie-2"), SID: "sid-2",
			AuthTime: t0.Add(-2 * time.Hour), UserFingerprint: "fp-2", Identity: "sealed-identity-2",
			GrantedAt: t0.Add(-time.Hour), LastUsed: t0.Add(time.Minute),
			Current:  store.Key([]byte("s"), store.KindFamily, "token-3"),
			Previous: store.Key([]byte("s"), store.KindFamily, "token-2"), RotatedAt: t0.Add(time.Minute),
			Grant:     "grant-2",
			RevokedAt: t0.Add(2 * time.Second), ExpiresAt: t0.Add(48 * time.Hour),
		},
		// Offline access, never rotated, live.
		sparse: store.RefreshFamily{
			ClientID: "shop.web", Subject: "alice",
			AuthTime: t0, UserFingerprint: "fp-1",
			GrantedAt: t0, LastUsed: t0,
			Current:   store.Key([]byte("s"), store.KindFamily, "token-1"),
			ExpiresAt: t0.Add(24 * time.Hour),
		},
	}
}

func revocationKind(t0 time.Time) kind[store.Revocation] {
	return kind[store.Revocation]{
		name:    store.KindRevocation,
		table:   store.Store.Revocations,
		full:    store.Revocation{ClientID: "shop.web", ExpiresAt: t0.Add(time.Hour)},
		changed: store.Revocation{ClientID: "shop.cli", ExpiresAt: t0.Add(2 * time.Hour)},
		sparse:  store.Revocation{ExpiresAt: t0.Add(time.Hour)},
	}
}

func consentKind(t0 time.Time) kind[store.Consent] {
	return kind[store.Consent]{
		name:  store.KindConsent,
		table: store.Store.Consents,
		full: store.Consent{ClientID: "partner.web", Subject: "alice",
			Scopes: []string{"email", "groups", "https://api.example.com orders:read"}, GrantedAt: t0, ExpiresAt: t0.Add(365 * 24 * time.Hour)},
		changed: store.Consent{ClientID: "partner.cli", Subject: "bob",
			Scopes: []string{"email", "groups", "profile"}, GrantedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(366 * 24 * time.Hour)},
		sparse: store.Consent{ClientID: "partner.cli", Subject: "bob", GrantedAt: t0, ExpiresAt: t0.Add(time.Hour)},
	}
}

// Samples returns one fully populated value of each record kind, with
// times truncated to the second, for backend-specific tests.
func Samples(t0 time.Time) (store.Session, store.Code, store.RefreshFamily, store.Revocation, store.Consent) {
	t0 = t0.UTC().Truncate(time.Second)
	return sessionKind(t0).full, codeKind(t0).full, familyKind(t0).full, revocationKind(t0).full, consentKind(t0).full
}
