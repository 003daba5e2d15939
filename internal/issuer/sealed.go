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

// sealed is the envelope of every sealed value: the value and, when it
// expires, when.
type sealed[T any] struct {
	Value   T     `json:"v"`
	Expires int64 `json:"e,omitempty"`
}

func (c *config) aead(purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(derive(c.stateKey, purpose))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts and authenticates flow until expires.
func (c *config) seal(flow *authFlow, expires time.Time) (string, error) {
	return c.sealJSON(purposeSeal, flow, expires.Unix())
}

// unseal opens a sealed request that has not expired at now.
func (c *config) unseal(value string, now time.Time) (*authFlow, error) {
	var flow authFlow
	if err := c.unsealJSONAt(purposeSeal, value, &flow, now); err != nil {
		return nil, err
	}
	return &flow, nil
}

// sealJSON encrypts and authenticates v under the key of purpose, valid
// until the Unix time expires (0: no expiry). The issuer URL is
// authenticated data, so a value sealed for one tenant never opens at
// another that happens to share a key.
func (c *config) sealJSON(purpose string, v any, expires int64) (string, error) {
	// No HTML escaping: it would grow a state full of '<' six-fold.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sealed[any]{Value: v, Expires: expires}); err != nil {
		return "", err
	}
	plain := buf.Bytes()
	aead, err := c.aead(purpose)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(c.issuer))), nil
}

// unsealJSON opens a value sealed without expiry into v.
func (c *config) unsealJSON(purpose, value string, v any) error {
	return c.unsealJSONAt(purpose, value, v, time.Time{})
}

// unsealJSONAt opens a sealed value into v, refusing one expired at now.
func (c *config) unsealJSONAt(purpose, value string, v any, now time.Time) error {
	limit := maxSealed
	if purpose == purposeIdentity {
		limit = maxSealedIdentity // accepted at login up to this size
	}
	if value == "" || len(value) > limit {
		return errSealed
	}
	data, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return errSealed
	}
	aead, err := c.aead(purpose)
	if err != nil {
		return err
	}
	if len(data) < aead.NonceSize() {
		return errSealed
	}
	plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(c.issuer))
	if err != nil {
		return errSealed
	}
	env := sealed[json.RawMessage]{}
	if err := json.Unmarshal(plain, &env); err != nil || (env.Expires != 0 && now.Unix() >= env.Expires) {
		return errSealed
	}
	if err := json.Unmarshal(env.Value, v); err != nil {
		return errSealed
	}
	return nil
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
