package signing

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// jwsSigner produces compact JWS (RFC 7515) with a protected header
// rendered once per key and token type. It is hand-written rather than
// go-jose's Signer because the token endpoint must spend its time signing:
// go-jose re-marshals the header map and copies the payload on every call,
// about 8 µs per token, a sixth of everything besides an ES256 signature.
// Verification still uses go-jose.
type JWSSigner struct {
	prefix []byte // base64url(header) + "."
	key    crypto.Signer
}

func newJWSSigner(key crypto.Signer, alg, kid, typ string) (*JWSSigner, error) {
	header, err := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": typ})
	if err != nil {
		return nil, fmt.Errorf("encoding JWS header: %w", err)
	}
	prefix := make([]byte, base64.RawURLEncoding.EncodedLen(len(header))+1)
	base64.RawURLEncoding.Encode(prefix, header)
	prefix[len(prefix)-1] = '.'
	return &JWSSigner{prefix: prefix, key: key}, nil
}

// sign returns header.payload.signature for the JSON payload.
func (s *JWSSigner) Sign(payload []byte) (string, error) {
	plen := base64.RawURLEncoding.EncodedLen(len(payload))
	buf := make([]byte, len(s.prefix)+plen, len(s.prefix)+plen+1+base64.RawURLEncoding.EncodedLen(512))
	copy(buf, s.prefix)
	base64.RawURLEncoding.Encode(buf[len(s.prefix):], payload)
	digest := sha256.Sum256(buf)
	sig, err := SignDigest(s.key, digest[:])
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sig)
	return string(buf), nil
}

// signDigest is the signature alone: RSASSA-PKCS1-v1_5 for RSA keys, and for
// P-256 the fixed-width R || S that JWS ES256 uses (RFC 7518 3.4), not
// ASN.1. The token benchmark's raw signing rate calls this same function,
// so "signing" there means exactly what the issuer does per token.
func SignDigest(key crypto.Signer, digest []byte) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest)
		if err != nil {
			return nil, fmt.Errorf("RS256 signing: %w", err)
		}
		return sig, nil
	case *ecdsa.PrivateKey:
		der, err := ecdsa.SignASN1(rand.Reader, k, digest)
		if err != nil {
			return nil, fmt.Errorf("ES256 signing: %w", err)
		}
		return derToFixed(der, 32)
	default:
		return nil, fmt.Errorf("unsupported key %T", key)
	}
}

// derToFixed turns an ASN.1 ECDSA signature, SEQUENCE { r INTEGER, s
// INTEGER }, into r || s, each left-padded to size bytes. Parsed with
// cryptobyte rather than through ecdsa.Sign's big.Int results, which cost
// four allocations and a copy per token for nothing.
func derToFixed(der []byte, size int) ([]byte, error) {
	var r, s []byte
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1Integer(&r) || !seq.ReadASN1Integer(&s) || !seq.Empty() {
		return nil, errors.New("ES256 signing: malformed ASN.1 signature")
	}
	out := make([]byte, 2*size)
	for i, v := range [][]byte{r, s} {
		v = bytes.TrimLeft(v, "\x00")
		if len(v) > size {
			return nil, errors.New("ES256 signing: signature value too long")
		}
		copy(out[(i+1)*size-len(v):(i+1)*size], v)
	}
	return out, nil
}
