package serving

import (
	"fmt"
	"math"
	"strings"
)

// MinClientSecretBits is the least entropy a client secret must carry: the
// issuer compares SHA-256 digests (issuerconfig.Application.SecretSHA256),
// which is safe only for secrets nobody can enumerate.
const MinClientSecretBits = 256

// WeakClientSecret says why secret falls short of MinClientSecretBits, or ""
// when it does not. Nobody can measure the entropy of one string: this
// estimates an upper bound, crediting each character with the bits of the
// smallest usual alphabet the whole secret fits (hex 4, base32 5, base64 6,
// otherwise the character classes present), and lowering it for secrets that
// repeat a pattern or reuse few characters, as random strings do not. It
// refuses short, low-variety and patterned secrets and anything typed with a
// trailing newline; a long passphrase can still pass, which is why the
// documentation tells people to generate the secret (openssl rand -base64 32)
// or let the operator do it. Operator-generated secrets always pass.
func WeakClientSecret(secret []byte) string {
	if len(secret) == 0 {
		return "it is empty"
	}
	for _, b := range secret {
		if b < 0x21 || b > 0x7e {
			return "it contains whitespace, control or non-ASCII characters (a trailing newline from echo?); client secrets are printable ASCII"
		}
	}
	bits, why := secretEntropyBits(string(secret))
	if bits >= MinClientSecretBits {
		return ""
	}
	return fmt.Sprintf("it carries at most about %d bits of entropy (%s), at least %d are required", int(bits), why, MinClientSecretBits)
}

// secretEntropyBits is WeakClientSecret's estimate, with how it was made.
func secretEntropyBits(s string) (float64, string) {
	body := s
	for i := 0; i < 2 && strings.HasSuffix(body, "="); i++ {
		body = strings.TrimSuffix(body, "=") // base64 padding carries nothing
	}
	n := len(body)
	if n == 0 {
		return 0, "no characters"
	}
	k, alphabet := alphabetOf(body)
	bits := float64(n) * math.Log2(float64(k))
	why := fmt.Sprintf("%d characters of a %d-symbol alphabet (%s)", n, k, alphabet)

	// A random string over k symbols uses about k(1-(1-1/k)^n) distinct ones;
	// far fewer means it is not random over k.
	distinct := map[byte]bool{}
	for i := 0; i < n; i++ {
		distinct[body[i]] = true
	}
	expected := float64(k) * (1 - math.Pow(1-1/float64(k), float64(n)))
	if d := float64(len(distinct)); d < expected/2 {
		if b := float64(n) * math.Log2(max(d, 1)); b < bits {
			bits, why = b, fmt.Sprintf("%d characters using only %d distinct symbols", n, len(distinct))
		}
	}
	// A pattern repeated at least twice carries no more than one copy.
	if p := period(body); p <= n/2 {
		if b := float64(p) * math.Log2(float64(k)); b < bits {
			bits, why = b, fmt.Sprintf("a %d-character pattern repeated", p)
		}
	}
	return bits, why
}

// alphabetOf returns the size and name of the smallest usual alphabet body
// fits. base32 and base64 are credited only when the secret looks like their
// output: a random base64 string of 43 characters lacks upper- or lower-case
// letters about once in three billion, a typed phrase almost always does.
func alphabetOf(body string) (int, string) {
	var digits, lower, upper, hexLower, hexUpper, b32, b64std, b64url, letters bool
	symbols := map[byte]bool{}
	hexLower, hexUpper, b64std, b64url = true, true, true, true
	b32Lower, b32Upper := true, true
	for i := 0; i < len(body); i++ {
		c := body[i]
		isDigit, isLower, isUpper := c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z'
		digits, lower, upper = digits || isDigit, lower || isLower, upper || isUpper
		letters = letters || isLower || isUpper
		hexLower = hexLower && (isDigit || (c >= 'a' && c <= 'f'))
		hexUpper = hexUpper && (isDigit || (c >= 'A' && c <= 'F'))
		b32Digit := c >= '2' && c <= '7'
		b32Lower = b32Lower && (isLower || b32Digit)
		b32Upper = b32Upper && (isUpper || b32Digit)
		alnum := isDigit || isLower || isUpper
		b64std = b64std && (alnum || c == '+' || c == '/')
		b64url = b64url && (alnum || c == '-' || c == '_')
		if !alnum {
			symbols[c] = true
		}
	}
	b32 = (b32Lower || b32Upper) && letters && digits
	switch {
	case hexLower || hexUpper:
		return 16, "hex"
	case b32:
		return 32, "base32"
	case (b64std || b64url) && lower && upper:
		return 64, "base64"
	}
	k, classes := len(symbols), []string{}
	for _, c := range []struct {
		present bool
		size    int
		name    string
	}{{digits, 10, "digits"}, {lower, 26, "lower-case"}, {upper, 26, "upper-case"}} {
		if c.present {
			k += c.size
			classes = append(classes, c.name)
		}
	}
	if len(symbols) > 0 {
		classes = append(classes, fmt.Sprintf("%d distinct symbols", len(symbols)))
	}
	return max(k, 1), strings.Join(classes, ", ")
}

// period is the length of the shortest p such that s[i] == s[i+p] for every
// i (len(s) when s repeats nothing), by the prefix function.
func period(s string) int {
	pi := make([]int, len(s))
	for i := 1; i < len(s); i++ {
		j := pi[i-1]
		for j > 0 && s[i] != s[j] {
			j = pi[j-1]
		}
		if s[i] == s[j] {
			j++
		}
		pi[i] = j
	}
	return len(s) - pi[len(s)-1]
}
