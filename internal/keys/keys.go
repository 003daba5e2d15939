// Package keys generates signing keys and plans their rotation. Planning is
// pure (the caller passes "now" and a generator) so every step of a rotation
// is table-tested without waiting for real time to pass.
//
// A rotation, per algorithm, follows the usual overlap so no verifier ever
// meets a kid it has not seen and no valid token loses its key:
//
//	active ──(age ≥ period − publishAhead)──▶ a next key is published
//	next   ──(published ≥ publishAhead and active age ≥ period)──▶ next becomes active,
//	                                                               active becomes retiring
//	retiring ──(retired ≥ retention: the longest token lifetime)──▶ removed
package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// Key is a signing key with the times its rotation is planned from.
type Key struct {
	issuerconfig.Key
	// CreatedAt is when the key was generated and first published.
	CreatedAt time.Time `json:"createdAt"`
	// ActivatedAt is when it started signing (zero while next).
	ActivatedAt time.Time `json:"activatedAt,omitzero"`
	// RetiredAt is when it stopped signing (zero unless retiring).
	RetiredAt time.Time `json:"retiredAt,omitzero"`
	// MaxRetention is the longest token lifetime in force at any time while
	// the key signed. It only grows, so a lifetime shortened later cannot
	// drop a key whose earlier, longer-lived tokens are still valid.
	MaxRetention time.Duration `json:"maxRetention,omitzero"`
}

// Generate creates a key for alg: RSA 2048 for RS256, P-256 for ES256. The
// kid is derived from the public key (RFC 7638-style digest), so it is
// stable and reveals nothing about the private half.
func Generate(alg v1alpha1.SigningAlgorithm, now time.Time) (Key, error) {
	var (
		priv any
		pub  any
	)
	switch alg {
	case v1alpha1.RS256:
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return Key{}, fmt.Errorf("generating RSA key: %w", err)
		}
		priv, pub = k, &k.PublicKey
	case v1alpha1.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return Key{}, fmt.Errorf("generating P-256 key: %w", err)
		}
		priv, pub = k, &k.PublicKey
	default:
		return Key{}, fmt.Errorf("unsupported signing algorithm %q", alg)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return Key{}, fmt.Errorf("encoding private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Key{}, fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(pubDER)
	return Key{
		Key: issuerconfig.Key{
			ID:            base64.RawURLEncoding.EncodeToString(sum[:12]),
			Algorithm:     alg,
			Role:          issuerconfig.KeyNext,
			PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
			PublicKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})),
		},
		CreatedAt: now,
	}, nil
}

// publicOnly returns k without its private half, deriving the public PEM
// first for keys stored before it was kept alongside.
func publicOnly(k Key) (Key, error) {
	if k.PrivateKeyPEM == "" {
		return k, nil
	}
	if k.PublicKeyPEM == "" {
		block, _ := pem.Decode([]byte(k.PrivateKeyPEM))
		if block == nil {
			return Key{}, fmt.Errorf("key %s: privateKeyPEM holds no PEM block", k.ID)
		}
		priv, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return Key{}, fmt.Errorf("key %s: parsing PKCS#8 key: %w", k.ID, err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			return Key{}, fmt.Errorf("key %s: unsupported key type %T", k.ID, priv)
		}
		der, err := x509.MarshalPKIXPublicKey(signer.Public())
		if err != nil {
			return Key{}, fmt.Errorf("key %s: encoding public key: %w", k.ID, err)
		}
		k.PublicKeyPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	}
	k.PrivateKeyPEM = ""
	return k, nil
}
