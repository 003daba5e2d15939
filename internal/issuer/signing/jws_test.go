package signing

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
)

// ES256 signatures are R || S, each exactly 32 bytes: values with a leading
// zero byte (about one in 128 signatures has one) and values with the high
// bit set (DER adds a 0x00 then) must both come out at full width and
// verify.
func TestSignDigestES256FixedWidth(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	short := 0
	for i := 0; i < 2000; i++ {
		digest := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		sig, err := SignDigest(key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		if len(sig) != 64 {
			t.Fatalf("signature is %d bytes, want 64", len(sig))
		}
		if sig[0] == 0 || sig[32] == 0 {
			short++
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
			t.Fatalf("signature %d does not verify", i)
		}
	}
	if short == 0 {
		t.Log("no signature with a leading zero byte in this run")
	}
}

func TestDERToFixedRejectsMalformed(t *testing.T) {
	for name, der := range map[string][]byte{
		"empty":          {},
		"not a sequence": {0x02, 0x01, 0x01},
		"one integer":    {0x30, 0x03, 0x02, 0x01, 0x01},
		"trailing bytes": {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00},
		"too long":       append([]byte{0x30, 0x26, 0x02, 0x21}, append(make([]byte, 33), 0x02, 0x01, 0x01)...),
	} {
		if name == "too long" {
			der[4] = 0x01 // a 33-byte value without a sign-padding zero
		}
		if _, err := derToFixed(der, 32); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	got, err := derToFixed([]byte{0x30, 0x07, 0x02, 0x01, 0x05, 0x02, 0x02, 0x00, 0x80}, 2)
	if err != nil || string(got) != "\x00\x05\x00\x80" {
		t.Errorf("derToFixed = %x, %v; want 00050080", got, err)
	}
}
