package issuer

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestAppendTokenResponseMatchesEncodingJSON(t *testing.T) {
	// appendTokenResponse writes the seven fields zitadel/oidc's
	// AccessTokenResponse has; a library upgrade that adds one must fail
	// here rather than silently drop it from responses.
	if n := reflect.TypeFor[oidc.AccessTokenResponse]().NumField(); n != 7 {
		t.Fatalf("oidc.AccessTokenResponse has %d fields; appendTokenResponse writes 7", n)
	}
	for _, resp := range []oidc.AccessTokenResponse{
		{},
		{AccessToken: "eyJ.a-b_c.d", TokenType: oidc.BearerToken, ExpiresIn: 3600, Scope: oidc.SpaceDelimitedArray{"read:orders", "write:orders"}},
		{AccessToken: "a", TokenType: "Bearer", RefreshToken: "r", ExpiresIn: 1, IDToken: "i", State: "s", Scope: oidc.SpaceDelimitedArray{"openid"}},
		{State: `quote" back\slash <tag> & ünïcode ` + "\u2028 \x01 tab\t"},
		{TokenType: "Bearer", Scope: oidc.SpaceDelimitedArray{}},
		{ExpiresIn: 1<<64 - 1},
	} {
		want, err := json.Marshal(&resp)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTokenResponse(nil, &resp); string(got) != string(want) {
			t.Errorf("appendTokenResponse(%+v)\n got %s\nwant %s", resp, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"`, "\\", "<>&", "\u2028", "\xff", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
