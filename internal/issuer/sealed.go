package issuer

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"time"
)

// An authorization request waiting for the user to log in is stored
// nowhere: it travels sealed (AES-256-GCM under a key derived from the
// tenant's state key) in the login page's URL and form. Anyone can start
// an authorization request, so parking them server-side would let anyone
// fill the store; sealed, a flood costs the issuer CPU only.

// maxSealed bounds a sealed request as it arrives: the parameters inside
// are length-limited at the authorization endpoint, so a real one stays
// far below this.
const maxSealed = 8 << 10

var errSealed = errors.New("sealed request is invalid or expired")

type sealedFlow struct {
	Flow    authFlow `json:"f"`
	Expires int64    `json:"e"`
}

func (c *config) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(derive(c.stateKey, purposeSeal))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts and authenticates flow until expires. The issuer URL is
// authenticated data, so a request sealed for one tenant never opens at
// another that happens to share a key.
func (c *config) seal(flow *authFlow, expires time.Time) (string, error) {
	// No HTML escaping: it would grow a state full of '<' six-fold.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sealedFlow{Flow: *flow, Expires: expires.Unix()}); err != nil {
		return "", err
	}
	plain := buf.Bytes()
	aead, err := c.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(c.issuer))), nil
}

// unseal opens a sealed request that has not expired at now.
func (c *config) unseal(sealed string, now time.Time) (*authFlow, error) {
	if sealed == "" || len(sealed) > maxSealed {
		return nil, errSealed
	}
	data, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, errSealed
	}
	aead, err := c.aead()
	if err != nil {
		return nil, err
	}
	if len(data) < aead.NonceSize() {
		return nil, errSealed
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(c.issuer))
	if err != nil {
		return nil, errSealed
	}
	var sf sealedFlow
	if err := json.Unmarshal(plain, &sf); err != nil || now.Unix() >= sf.Expires {
		return nil, errSealed
	}
	return &sf.Flow, nil
}

// csrfFor is the double-submit token of a sealed request: the login page
// sets it as a cookie and a form field, and the submission must carry both,
// so another site cannot post a login into a request it obtained.
func (c *config) csrfFor(sealed string) string {
	return base64.RawURLEncoding.EncodeToString(derive(c.stateKey, purposeCSRF, sealed)[:24])
}

func (c *config) csrfMatches(sealed, token string) bool {
	return subtle.ConstantTimeCompare([]byte(c.csrfFor(sealed)), []byte(token)) == 1
}
