package serving

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestClientSecretStrength(t *testing.T) {
	random := func(n int) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
	for _, c := range []struct {
		name   string
		secret string
		weak   bool
		why    string
	}{
		{"empty", "", true, "empty"},
		{"a word", "s3cret", true, "at most about"},
		{"a typed phrase of base64 length", "my-super-secret-client-secret-for-the-shop1", true, "at most about"},
		{"a trailing newline", base64.RawURLEncoding.EncodeToString(random(32)) + "\n", true, "trailing newline"},
		{"one character repeated", strings.Repeat("a", 100), true, "distinct symbols"},
		{"hex digits in a cycle", strings.Repeat("0123456789abcdef", 4), true, "pattern repeated"},
		{"a UUID (122 bits)", "8c3e1a1e-5b7c-4f0e-9a55-0d2c7c1b9e42", true, "at most about"},
		{"31 random bytes", base64.RawURLEncoding.EncodeToString(random(31)), true, "at most about"},
		{"openssl rand -base64 32", base64.StdEncoding.EncodeToString(random(32)), false, ""},
		{"openssl rand -hex 32", hex.EncodeToString(random(32)), false, ""},
		{"base32 of 33 bytes", base32.StdEncoding.EncodeToString(random(33)), false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			why := WeakClientSecret([]byte(c.secret))
			if (why != "") != c.weak || !strings.Contains(why, c.why) {
				t.Fatalf("weakClientSecret = %q, want weak=%v mentioning %q", why, c.weak, c.why)
			}
			if c.secret != "" && strings.Contains(why, strings.TrimSpace(c.secret)) {
				t.Fatalf("the reason repeats the secret: %q", why)
			}
		})
	}
}

// TestRandomBase64SecretsPass: hand-made secrets from a proper generator
// pass; a false refusal would lock a team out for no reason.
func TestRandomBase64SecretsPass(t *testing.T) {
	for range 20000 {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		for _, s := range []string{base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b), hex.EncodeToString(b)} {
			if bits, why := secretEntropyBits(s); bits < MinClientSecretBits {
				t.Fatalf("%d random bytes credited with %.0f bits (%s)", len(b), bits, why)
			}
		}
	}
}
