// Package signing holds a Tenant's signing keys as the issuer uses them:
// parsing the configuration's keys into a KeySet (active, next and retiring
// keys, the published JWKS) and signing JWTs with them (JWSSigner). It
// knows nothing of tokens' contents or lifetimes.
package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// keySet is the compiled signing material: one active signer per algorithm
// and every key's public half for the JWKS and for verifying our own tokens.
type KeySet struct {
	Active map[v1alpha1.SigningAlgorithm]*signingKey
	Public map[string]*jose.JSONWebKey // by kid
	JWKS   []byte                      // the JWKS document, rendered once
}

type signingKey struct {
	id   string
	alg  v1alpha1.SigningAlgorithm
	Priv crypto.Signer
	// jwt signs ID tokens (typ JWT); at signs access tokens (typ at+jwt,
	// RFC 9068 section 2.1).
	JWT, At *JWSSigner
}

func CompileKeys(keys []issuerconfig.Key) (*KeySet, error) {
	ks := &KeySet{Active: map[v1alpha1.SigningAlgorithm]*signingKey{}, Public: map[string]*jose.JSONWebKey{}}
	var set jose.JSONWebKeySet
	for i, k := range keys {
		if k.PrivateKeyPEM == "" {
			// A retired key: the operator keeps only its public half, to
			// publish and verify with until its tokens expire.
			if k.Role != issuerconfig.KeyRetiring {
				return nil, fmt.Errorf("keys[%d] (%s): an %s key needs its private key", i, k.ID, k.Role)
			}
			pubKey, err := parsePublicKey(k.PublicKeyPEM, k.Algorithm)
			if err != nil {
				return nil, fmt.Errorf("keys[%d] (%s): %w", i, k.ID, err)
			}
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: pubKey, KeyID: k.ID, Algorithm: string(k.Algorithm), Use: "sig"})
			continue
		}
		priv, err := parsePrivateKey(k.PrivateKeyPEM, k.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("keys[%d] (%s): %w", i, k.ID, err)
		}
		pub := jose.JSONWebKey{Key: priv.Public(), KeyID: k.ID, Algorithm: string(k.Algorithm), Use: "sig"}
		set.Keys = append(set.Keys, pub)
		ks.Public[k.ID] = &set.Keys[len(set.Keys)-1]
		if k.Role != issuerconfig.KeyActive {
			continue
		}
		if _, dup := ks.Active[k.Algorithm]; dup {
			return nil, fmt.Errorf("keys[%d] (%s): a second active %s key", i, k.ID, k.Algorithm)
		}
		sk := &signingKey{id: k.ID, alg: k.Algorithm, Priv: priv}
		if sk.JWT, err = newJWSSigner(priv, string(k.Algorithm), k.ID, "JWT"); err != nil {
			return nil, fmt.Errorf("keys[%d] (%s): %w", i, k.ID, err)
		}
		if sk.At, err = newJWSSigner(priv, string(k.Algorithm), k.ID, "at+jwt"); err != nil {
			return nil, fmt.Errorf("keys[%d] (%s): %w", i, k.ID, err)
		}
		ks.Active[k.Algorithm] = sk
	}
	// Re-point after appends may have moved the backing array.
	for i := range set.Keys {
		ks.Public[set.Keys[i].KeyID] = &set.Keys[i]
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("rendering JWKS: %w", err)
	}
	ks.JWKS = jwks
	return ks, nil
}

// parsePublicKey reads a retired key's PKIX public key, held to the same
// rules as private keys: RSA of 2048 bits or more for RS256, P-256 for ES256.
func parsePublicKey(pemText string, alg v1alpha1.SigningAlgorithm) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("publicKeyPEM holds no PEM block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKIX public key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if alg != v1alpha1.RS256 {
			return nil, fmt.Errorf("an RSA key cannot verify %s", alg)
		}
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: at least 2048 required", k.N.BitLen())
		}
		return k, nil
	case *ecdsa.PublicKey:
		if alg != v1alpha1.ES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an ECDSA key on %s cannot verify %s", k.Curve.Params().Name, alg)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported public key type %T", key)
	}
}

func parsePrivateKey(pemText string, alg v1alpha1.SigningAlgorithm) (crypto.Signer, error) {
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("privateKeyPEM holds no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing PKCS#8 key: %w", err)
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if alg != v1alpha1.RS256 {
			return nil, fmt.Errorf("an RSA key cannot sign %s", alg)
		}
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits: at least 2048 required", k.N.BitLen())
		}
		return k, nil
	case *ecdsa.PrivateKey:
		if alg != v1alpha1.ES256 || k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an ECDSA key on %s cannot sign %s", k.Curve.Params().Name, alg)
		}
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
}
