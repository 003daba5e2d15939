package issuer

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// tokenEndpoint serves client_credentials requests without a browser
// Origin directly and hands everything else to the library.
//
// Why by hand: machine-to-machine traffic is the issuer's hot path, and the
// library's route for it (chi router, CORS wrapper, a tracing span, two
// reflection-based form decodes, a JSON re-encode) costs about as much CPU
// as an ES256 signature. This path does the same checks in the same order
// with the same error rendering (op.WriteError), shares the grant logic
// with ClientCredentialsExchange, and is covered by the same tests and the
// token fuzz target.
func (s *Server) tokenEndpoint(fallback http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" {
			fallback.ServeHTTP(w, r)
			return
		}
		if err := r.ParseForm(); err != nil {
			op.WriteError(w, r, oidc.ErrInvalidRequest().WithDescription("error parsing form"), nil)
			return
		}
		if r.Form.Get("grant_type") != string(oidc.GrantTypeClientCredentials) || r.Form.Get("client_assertion") != "" {
			fallback.ServeHTTP(w, r)
			return
		}
		cl, err := s.fastClient(r)
		if err != nil {
			op.WriteError(w, r, err, nil)
			return
		}
		resp, err := s.clientCredentials(cl, r.Form, strings.Fields(r.Form.Get("scope")))
		if err != nil {
			op.WriteError(w, r, err, nil)
			return
		}
		body := appendTokenResponse(make([]byte, 0, len(resp.AccessToken)+128), resp)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		_, _ = w.Write(body)
	}
}

// fastClient authenticates the client exactly as the library's token
// route does: one method only (basic or post), then VerifyClient, then the
// grant type check.
func (s *Server) fastClient(r *http.Request) (*client, error) {
	cc := &op.ClientCredentials{ClientID: r.Form.Get("client_id"), ClientSecret: r.Form.Get("client_secret")}
	if id, secret, ok := r.BasicAuth(); ok {
		if cc.ClientID != "" && cc.ClientSecret != "" {
			return nil, oidc.ErrInvalidRequest().WithDescription("client authentication must not use more than one method")
		}
		var err error
		if cc.ClientID, err = url.QueryUnescape(id); err != nil {
			return nil, oidc.ErrInvalidClient().WithDescription("invalid basic auth header")
		}
		if cc.ClientSecret, err = url.QueryUnescape(secret); err != nil {
			return nil, oidc.ErrInvalidClient().WithDescription("invalid basic auth header")
		}
	}
	if cc.ClientID == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("client_id or client_assertion must be provided")
	}
	c, err := s.VerifyClient(r.Context(), &op.Request[op.ClientCredentials]{Method: r.Method, URL: r.URL, Header: r.Header, Form: r.Form, Data: cc})
	if err != nil {
		return nil, err
	}
	cl := c.(*client)
	if !slices.Contains(cl.grantTypes, oidc.GrantTypeClientCredentials) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("grant_type %q not allowed", oidc.GrantTypeClientCredentials)
	}
	if cl.public {
		return nil, oidc.ErrInvalidClient().WithDescription("client must be authenticated")
	}
	return cl, nil
}
