package issuer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/idtenant/idtenant/internal/issuer/store"
)

// Derivation labels: one state key per tenant, separate keys per purpose.
const (
	purposeSeal      = "seal"      // AEAD key of sealed authorization requests
	purposeCSRF      = "csrf"      // login form CSRF token of a sealed request
	purposeSuccessor = "successor" // next refresh token of a rotating family
	purposeUser      = "user"      // fingerprint of a directory entry
	purposeTag       = "tag"       // authenticity tag of a secret handed out
	purposeIdentity  = "identity"  // AEAD key of upstream users' attributes in records
	purposeUpstream  = "upstream"  // AEAD key of the state sent to an upstream connection
)

// kindRefreshToken keys the digest of one refresh token inside its family
// record (families themselves are keyed by their id).
const kindRefreshToken store.Kind = "refreshToken"

// derive is HMAC-SHA256(stateKey, purpose || 0 || data).
func derive(stateKey []byte, purpose string, data ...string) []byte {
	mac := hmac.New(sha256.New, stateKey)
	mac.Write([]byte(purpose))
	for _, d := range data {
		mac.Write([]byte{0})
		mac.Write([]byte(d))
	}
	return mac.Sum(nil)
}

// newStateKey is the key of a tenant whose configuration carries none
// (an issuer run from a hand-written --config file, or tests): random per
// process, so its records and sealed requests are this process's only.
func newStateKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

// newSecret returns a fresh secret of kind to hand out (a session cookie,
// a code, a refresh family id): 256 random bits and a 64-bit tag under the
// state key. A forged or mangled value fails the tag before it costs a
// store read, so guessing at cookies or codes cannot load the API server.
func (c *config) newSecret(kind store.Kind) string {
	r := randomToken()
	return r + "~" + c.tag(kind, r)
}

// genuine reports whether secret is one newSecret(kind) made.
func (c *config) genuine(kind store.Kind, secret string) bool {
	r, t, ok := strings.Cut(secret, "~")
	return ok && len(r) == 43 && hmac.Equal([]byte(t), []byte(c.tag(kind, r)))
}

func (c *config) tag(kind store.Kind, random string) string {
	return base64.RawURLEncoding.EncodeToString(derive(c.stateKey, purposeTag, string(kind), random)[:8])
}

// key is the record key of a secret handed out.
func (c *config) key(kind store.Kind, secret string) string {
	return store.Key(c.stateKey, kind, secret)
}

// errUnavailable answers a request whose state could not be read or
// written: 503 (the middleware adds Retry-After), nothing issued.
var errUnavailable = op.NewStatusError(&oidc.Error{
	ErrorType:   "temporarily_unavailable",
	Description: "the issuer cannot reach its state store; try again shortly",
}, http.StatusServiceUnavailable)

// errQuotaExhausted answers a request that needs one more state record
// than the Tenant's state quota allows: 503, nothing issued.
var errQuotaExhausted = op.NewStatusError(&oidc.Error{
	ErrorType:   "temporarily_unavailable",
	Description: "the identity provider's state quota is reached; try again later, or ask its administrator to raise spec.state.quota",
}, http.StatusServiceUnavailable)

// unavailable logs and counts a store failure and returns errUnavailable
// (errQuotaExhausted when the state quota refused a record).
func (s *Server) unavailable(operation string, err error) error {
	s.metrics.storeErrors.WithLabelValues(operation).Inc()
	if errors.Is(err, store.ErrQuota) {
		s.log.Info("state quota reached; request refused", "operation", operation)
		return errQuotaExhausted
	}
	s.log.Error("issuer state store unavailable", "operation", operation, "error", err)
	return errUnavailable
}

// retryAfterSeconds is what a 503 tells clients to wait.
const retryAfterSeconds = "5"
