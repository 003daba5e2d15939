package command

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRunCommandServesReloadsAndExportsMetrics(t *testing.T) {
	addr, metricsAddr := freeAddr(t), freeAddr(t)
	issuerURL := "http://" + addr
	path := filepath.Join(t.TempDir(), "config.json")
	write := func(gen int64) {
		doc := issuertest.Doc(t, issuerURL)
		doc.Generation = gen
		data, _ := json.Marshal(doc)
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil { // atomic, like a Secret volume
			t.Fatal(err)
		}
	}
	write(1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"--config", path, "--listen", addr, "--metrics-listen", metricsAddr, "--reload-interval", "20ms", "--log-json=false", "--shutdown-delay=100ms"})
	}()
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for i := 0; i < 500; i++ {
			if ok() {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	waitFor("healthz", func() bool { c, _ := get(issuerURL + issuer.PathHealth); return c == 200 })
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}
	req, _ := http.NewRequest(http.MethodPost, issuerURL+issuer.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("m2m.shop", issuertest.Secrets["m2m.shop"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token over the command's listener: %v %v", resp, err)
	}
	resp.Body.Close()
	// A changed file is picked up without a restart.
	time.Sleep(30 * time.Millisecond) // a later mtime than the first write
	write(2)
	waitFor("generation 2", func() bool { _, b := get(issuerURL + issuer.PathReady); return strings.Contains(b, `"generation":2`) })
	code, metrics := get("http://" + metricsAddr + "/metrics")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for _, want := range []string{
		`idtenant_issuer_tokens_issued_total{alg="RS256",flow="Standard",grant="client_credentials",kind="access_token"} 1`,
		`idtenant_issuer_config_generation 2`,
		`idtenant_issuer_request_duration_seconds_bucket{code="200",endpoint="token"`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, issuertest.Secrets["m2m.shop"]) {
		t.Error("metrics contain a client secret")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not stop with its context")
	}
}

func TestInvalidConfigIsRefused(t *testing.T) {
	for name, data := range issuertest.InvalidDocs {

		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.json")
			if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := Run(ctx, []string{"--config", path, "--listen", "127.0.0.1:0", "--metrics-listen", ""})
			if err == nil {
				t.Fatal("Run accepted an invalid config")
			}
		})
	}
}
