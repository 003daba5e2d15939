package issuer

import (
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

// TestMetricsCountTokensByAlgorithmAndTimeTheStore: tokens are counted by
// the algorithm that really signed them (per API: orders RS256, payments
// ES256; ID tokens the Tenant's), and every state store call a login makes
// is observed by table, operation and result.
func TestMetricsCountTokensByAlgorithmAndTimeTheStore(t *testing.T) {
	e := newEnv(t, nil)
	for _, aud := range []string{"https://orders.acme.test", "https://payments.acme.test"} {
		cfg := clientcredentials.Config{ClientID: "m2m.shop", ClientSecret: issuertest.Secrets["m2m.shop"], TokenURL: e.issuer + PathToken,
			EndpointParams: url.Values{"audience": {aud}}}
		if _, err := cfg.Token(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := e.loginFlow(e.browser(), "web.shop", "https://web.acme.test/cb")
	if err != nil {
		t.Fatal(err)
	}
	idAlg, _ := jwtParts(t, tok.Extra("id_token").(string))

	tokens := e.srv.metrics.tokens
	for _, c := range []struct {
		grant, flow, kind, alg string
	}{
		{"client_credentials", "Standard", "access_token", "RS256"},
		{"client_credentials", "Standard", "access_token", "ES256"},
		{"authorization_code", "Standard", "access_token", "RS256"},
		{"authorization_code", "None", "id_token", idAlg["alg"].(string)},
	} {
		if got := testutil.ToFloat64(tokens.WithLabelValues(c.grant, c.flow, c.kind, c.alg)); got != 1 {
			t.Errorf("tokens issued %+v = %v, want 1", c, got)
		}
	}

	// The login created a session and a code, and redeeming the code read
	// and updated it: each call is in the histogram.
	calls := map[[3]string]uint64{}
	ch := make(chan prometheus.Metric, 100)
	e.srv.metrics.storeLatency.Collect(ch)
	close(ch)
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		var key [3]string
		for _, l := range pb.GetLabel() {
			switch l.GetName() {
			case "table":
				key[0] = l.GetValue()
			case "operation":
				key[1] = l.GetValue()
			case "result":
				key[2] = l.GetValue()
			}
		}
		calls[key] = pb.GetHistogram().GetSampleCount()
	}
	for _, c := range [][3]string{{"sessions", "create", "ok"}, {"codes", "create", "ok"}, {"codes", "get", "ok"}, {"codes", "update", "ok"}} {
		if calls[c] == 0 {
			t.Errorf("store calls %v not observed; observed: %v", c, calls)
		}
	}
}
