package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// liveCheck is what the issuer itself answered, read the way a relying
// party would on its first request.
type liveCheck struct {
	discoveryURL string
	discoveryErr error
	issuer       string // as the discovery document names it
	jwksURL      string
	jwksErr      error
	keys         []jwk
}

type jwk struct {
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Kty string `json:"kty"`
}

// checkLive fetches the issuer's discovery document and its JWKS. An
// issuer URL that the machine running the CLI cannot reach is reported, not
// fatal: status already says what the operator sees.
func checkLive(ctx context.Context, hc *http.Client, issuerURL string) *liveCheck {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	lc := &liveCheck{discoveryURL: strings.TrimSuffix(issuerURL, "/") + "/.well-known/openid-configuration"}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if lc.discoveryErr = getJSON(ctx, hc, lc.discoveryURL, &doc); lc.discoveryErr != nil {
		return lc
	}
	lc.issuer, lc.jwksURL = doc.Issuer, doc.JWKSURI
	if doc.Issuer != issuerURL {
		lc.discoveryErr = fmt.Errorf("the document names issuer %q, not %q: relying parties will reject every token", doc.Issuer, issuerURL)
	}
	if doc.JWKSURI == "" {
		lc.jwksErr = fmt.Errorf("the discovery document has no jwks_uri")
		return lc
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if lc.jwksErr = getJSON(ctx, hc, doc.JWKSURI, &set); lc.jwksErr == nil {
		lc.keys = set.Keys
		if len(set.Keys) == 0 {
			lc.jwksErr = fmt.Errorf("the key set is empty: no token can be verified")
		}
	}
	return lc
}

func getJSON(ctx context.Context, hc *http.Client, url string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: not JSON: %w", url, err)
	}
	return nil
}
