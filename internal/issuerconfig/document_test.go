package issuerconfig

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/idtenant/idtenant/api/v1alpha1"
)

func TestValidateStateKey(t *testing.T) {
	doc := func(key []byte) *Document {
		return &Document{APIVersion: APIVersion, StateKey: key,
			Tenant: Object[v1alpha1.TenantSpec]{Name: "acme", Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example"}}}
	}
	secret := strings.Repeat("k", StateKeySize)
	cases := []struct {
		name string
		key  []byte
		ok   bool
	}{
		{"absent", nil, true},
		{"256 bits", []byte(secret), true},
		{"empty but present", []byte{}, false},
		{"128 bits", []byte(secret[:16]), false},
		{"too long", []byte(secret + "x"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := doc(c.key).Validate()
			if (err == nil) != c.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, c.ok)
			}
			if err != nil && (!strings.Contains(err.Error(), "stateKey") || strings.Contains(err.Error(), "kkkk")) {
				t.Errorf("error must name stateKey and never show the key: %v", err)
			}
		})
	}
}

func TestParseStateKey(t *testing.T) {
	// "stateKey" is base64 in JSON, as encoding/json writes []byte.
	const base = `{"apiVersion":"issuer.idtenant.dev/v1","generation":1,"tenant":{"name":"acme","namespace":"id","spec":{"issuerURL":"https://id.acme.example"}},"tenantUID":"u-1"`
	d, err := Parse([]byte(base + `,"stateKey":"` + strings.Repeat("A", 43) + `="}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.StateKey) != StateKeySize || d.TenantUID != "u-1" {
		t.Errorf("parsed stateKey of %d bytes, tenantUID %q", len(d.StateKey), d.TenantUID)
	}
	if _, err := Parse([]byte(base + `,"stateKey":"AAAA"}`)); err == nil {
		t.Error("a 3-byte state key was accepted")
	}
}

func TestValidateKeys(t *testing.T) {
	doc := func(keys ...Key) *Document {
		return &Document{APIVersion: APIVersion, Keys: keys,
			Tenant: Object[v1alpha1.TenantSpec]{Name: "acme", Spec: v1alpha1.TenantSpec{IssuerURL: "https://id.acme.example"}}}
	}
	active := Key{ID: "a", Algorithm: v1alpha1.RS256, Role: KeyActive, PrivateKeyPEM: "priv", PublicKeyPEM: "pub"}
	cases := []struct {
		name string
		keys []Key
		want string // "" for valid
	}{
		{"a retired key with its public half only", []Key{active, {ID: "r", Role: KeyRetiring, PublicKeyPEM: "pub"}}, ""},
		{"a retired key from an older operator, private half kept", []Key{active, {ID: "r", Role: KeyRetiring, PrivateKeyPEM: "priv"}}, ""},
		{"a retired key with nothing", []Key{active, {ID: "r", Role: KeyRetiring}}, "publicKeyPEM"},
		{"an active key without its private half", []Key{{ID: "a", Role: KeyActive, PublicKeyPEM: "pub"}}, "privateKeyPEM"},
		{"a next key without its private half", []Key{active, {ID: "n", Role: KeyNext, PublicKeyPEM: "pub"}}, "privateKeyPEM"},
		{"a key without id", []Key{active, {Role: KeyNext, PrivateKeyPEM: "priv"}}, "id is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := doc(c.keys...).Validate()
			if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
				t.Fatalf("Validate() = %v, want %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "priv") && !strings.Contains(err.Error(), "privateKeyPEM") {
				t.Errorf("error shows key material: %v", err)
			}
		})
	}
}

// TestValidateSealingKeys: the ring's shape is checked, never showing a
// key's bytes.
func TestValidateSealingKeys(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	key := func(id string, fill byte, superseded *time.Time) SealingKey {
		return SealingKey{ID: id, Key: bytes.Repeat([]byte{fill}, StateKeySize), SupersededAt: superseded}
	}
	for _, c := range []struct {
		name string
		ring []SealingKey
		want string
	}{
		{"empty", nil, ""},
		{"current and superseded", []SealingKey{key("k2", 2, nil), key("k1", 1, &at), {SupersededAt: &at}}, ""},
		{"duplicate id", []SealingKey{key("k2", 2, nil), key("k2", 1, &at)}, "appears twice"},
		{"bad id", []SealingKey{key("K-2", 2, nil)}, "1 to 8 of [a-z0-9]"},
		{"short key", []SealingKey{{ID: "k1", Key: []byte{1, 2, 3}}}, "3 bytes, want 32"},
		{"state key entry first", []SealingKey{{}}, "current only behind a pending key"},
		{"pending behind the state key", []SealingKey{{ID: "k1", Key: bytes.Repeat([]byte{1}, StateKeySize), Pending: true}, {}}, ""},
		{"pending alone", []SealingKey{{ID: "k1", Key: bytes.Repeat([]byte{1}, StateKeySize), Pending: true}}, "needs a current one"},
		{"pending not first", []SealingKey{key("k2", 2, nil), {ID: "k1", Key: bytes.Repeat([]byte{1}, StateKeySize), Pending: true, SupersededAt: &at}}, "only the first key may be pending"},
		{"state key entry with bytes", []SealingKey{key("k2", 2, nil), key("", 9, &at)}, "carries no key"},
		{"two current keys", []SealingKey{key("k2", 2, nil), key("k1", 1, nil)}, "need supersededAt"},
	} {
		err := ValidateSealingKeys(c.ring)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		case err != nil && strings.Contains(err.Error(), string(bytes.Repeat([]byte{9}, 4))):
			t.Errorf("%s: the error shows key bytes", c.name)
		}
	}
}
