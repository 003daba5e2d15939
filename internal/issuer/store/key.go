package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// keyEncoding is lowercase base32 without padding: a 256-bit digest becomes
// 52 characters of [a-z2-7], a valid Kubernetes object name and SQL key.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// KeyLen is the length of every record key.
const KeyLen = 52

// Key derives the record key of a secret handed out (a session cookie, a
// code, a refresh family id, a jti) with the tenant's state key: HMAC-SHA256
// over the kind and the secret. Without the state key nobody can compute the
// key of a secret, so an issuer of another tenant sharing the namespace can
// neither find nor plant a record this tenant would read.
func Key(stateKey []byte, kind Kind, secret string) string {
	mac := hmac.New(sha256.New, stateKey)
	mac.Write([]byte(kind))
	mac.Write([]byte{0})
	mac.Write([]byte(secret))
	return keyEncoding.EncodeToString(mac.Sum(nil))
}

// ValidKey reports whether key has the shape Key produces, so a backend can
// refuse anything else before it reaches a query or an object name.
func ValidKey(key string) bool {
	return len(key) == KeyLen && strings.Trim(key, "abcdefghijklmnopqrstuvwxyz234567") == ""
}
