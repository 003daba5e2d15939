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
	"strings"
	"time"

	"github.com/idtenant/idtenant/internal/issuerconfig"
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

// sealingKey is a key of the sealing ring (issuerconfig.SealingKey) as the
// issuer uses it.
type sealingKey struct {
	id  string
	key []byte
	// supersededAt is zero for the current key (and a pending one).
	supersededAt time.Time
	// pending: opens, does not seal yet.
	pending bool
}

// compileSealingKeys turns the document's ring into the issuer's; without
// one the state key seals, under the empty id, as before rings.
func compileSealingKeys(ring []issuerconfig.SealingKey, stateKey []byte) []sealingKey {
	if len(ring) == 0 {
		return []sealingKey{{key: stateKey}}
	}
	out := make([]sealingKey, 0, len(ring))
	for _, k := range ring {
		sk := sealingKey{id: k.ID, key: k.Key, pending: k.Pending}
		if k.ID == "" {
			sk.key = stateKey
		}
		if k.SupersededAt != nil {
			sk.supersededAt = *k.SupersededAt
		}
		out = append(out, sk)
	}
	return out
}

// sealingKey is the key that seals: the ring's first, or the one after a
// pending key.
func (c *config) sealingKey() sealingKey {
	if c.sealing[0].pending && len(c.sealing) > 1 {
		return c.sealing[1]
	}
	return c.sealing[0]
}

// sealingKeyFor finds the key a sealed value names ("<id>." before the
// ciphertext, nothing for the state key) and the ciphertext; ok is false
// for an id the ring does not hold.
func (c *config) sealingKeyFor(value string) (k sealingKey, ciphertext string, ok bool) {
	id, rest, prefixed := strings.Cut(value, ".")
	if !prefixed {
		id, rest = "", value
	}
	for _, k := range c.sealing {
		if k.id == id {
			return k, rest, true
		}
	}
	return sealingKey{}, "", false
}

// opens reports whether k may still open a value sealed for purpose at
// now: the current key always; a superseded one opens sealed identities
// (kept in records) until the operator retires it, and short-lived values
// (pending requests, upstream state, CSRF tokens) only as long as they
// live after it was superseded — so that a leaked key stops forging them
// minutes after a rotation.
func (k sealingKey) opens(purpose string, now time.Time) bool {
	return k.supersededAt.IsZero() || purpose == purposeIdentity || now.Before(k.supersededAt.Add(pendingLifetime))
}

func aeadFor(key []byte, purpose string) (cipher.AEAD, error) {
	block, err := aes.NewCipher(derive(key, purpose))
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
	current := c.sealingKey()
	aead, err := aeadFor(current.key, purpose)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce)
	out := base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(c.issuer)))
	if current.id != "" {
		out = current.id + "." + out
	}
	return out, nil
}

// unsealJSON opens a value sealed without expiry into v (a sealed
// identity: any key of the ring opens it).
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
	key, value, ok := c.sealingKeyFor(value)
	if !ok || !key.opens(purpose, now) {
		return errSealed
	}
	data, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil {
		return errSealed
	}
	aead, err := aeadFor(key.key, purpose)
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
	key, _, ok := c.sealingKeyFor(sealed)
	if !ok {
		key = c.sealingKey() // the request will not open anyway
	}
	return base64.RawURLEncoding.EncodeToString(derive(key.key, purposeCSRF, sealed)[:24])
}

func (c *config) csrfMatches(sealed, token string) bool {
	return subtle.ConstantTimeCompare([]byte(c.csrfFor(sealed)), []byte(token)) == 1
}
