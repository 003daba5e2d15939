package issuer

import (
	"encoding/json"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// appendTokenResponse appends resp as encoding/json would encode it, byte
// for byte (TestAppendTokenResponseMatchesEncodingJSON checks that).
//
// Why by hand: encoding/json reaches the scope through
// SpaceDelimitedArray's MarshalJSON, which marshals a second time and then
// re-validates and compacts the result; with reflection that is ~6 µs per
// token on the client_credentials fast path, a tenth of what the issue
// allows besides the signature. The response has seven fixed fields.
func appendTokenResponse(buf []byte, resp *oidc.AccessTokenResponse) []byte {
	buf = append(buf, '{')
	first := true
	field := func(name string) {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, '"')
		buf = append(buf, name...)
		buf = append(buf, '"', ':')
	}
	str := func(name, v string) {
		if v != "" {
			field(name)
			buf = appendJSONString(buf, v)
		}
	}
	str("access_token", resp.AccessToken)
	str("token_type", resp.TokenType)
	str("refresh_token", resp.RefreshToken)
	if resp.ExpiresIn != 0 {
		field("expires_in")
		buf = strconv.AppendUint(buf, resp.ExpiresIn, 10)
	}
	str("id_token", resp.IDToken)
	str("state", resp.State)
	if len(resp.Scope) > 0 {
		field("scope")
		buf = appendJSONString(buf, resp.Scope.String())
	}
	return append(buf, '}')
}

// appendJSONString appends s as a JSON string exactly as encoding/json
// does. Tokens and scopes are printable ASCII without quotes, so they are
// copied as they are; anything else (escapes, HTML-sensitive characters,
// non-ASCII) goes through encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(buf, quoted...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
