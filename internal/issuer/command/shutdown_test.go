package command

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/idtenant/idtenant/internal/issuer"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
)

// TestSIGTERMDrainsRequestsInFlight signals a real issuer process, with a
// request in flight and an idle keep-alive connection open, the way a
// kubelet ends a Pod in a rolling update. Nothing the process accepted may
// be lost: during the shutdown delay readiness fails but requests are
// still served; then the listener closes (new connections are refused),
// the idle connection is closed, and the request in flight is answered in
// full before the process exits 0.
func TestSIGTERMDrainsRequestsInFlight(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	path := filepath.Join(t.TempDir(), "config.json")
	data, err := json.Marshal(issuertest.Doc(t, base))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	const delay = time.Second
	cmd := exec.Command(os.Args[0], "--config", path, "--listen", addr, "--metrics-listen", "",
		"--shutdown-delay", delay.String(), "--drain-timeout", "20s", "--log-json=false")
	cmd.Env = append(os.Environ(), issuerProcessEnv+"=1")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("issuer process output:\n%s", logs.String())
		}
	})
	status := func(path string) int {
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
		resp, err := c.Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for deadline := time.Now().Add(20 * time.Second); status("/ready") != http.StatusOK; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the issuer never became ready")
		}
	}

	// An idle keep-alive connection, as a client's pool keeps one.
	idle := dial(t, addr)
	fmt.Fprintf(idle, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	idleReader := bufio.NewReader(idle)
	if resp, err := http.ReadResponse(idleReader, nil); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	} else {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A token request in flight: its headers are sent, its body not yet.
	form := url.Values{"grant_type": {"client_credentials"}, "audience": {"https://orders.acme.test"}}.Encode()
	inFlight := dial(t, addr)
	fmt.Fprintf(inFlight, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nAuthorization: Basic %s\r\n\r\n%s",
		issuer.PathToken, addr, len(form), base64.StdEncoding.EncodeToString([]byte("m2m.shop:"+issuertest.Secrets["m2m.shop"])), form[:10])

	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Within the delay: not ready, yet still serving new connections.
	time.Sleep(delay / 4)
	if got := status("/ready"); got != http.StatusServiceUnavailable {
		t.Errorf("readiness during the shutdown delay: %d, want 503", got)
	}
	if got := status("/.well-known/openid-configuration"); got != http.StatusOK {
		t.Errorf("a new request during the shutdown delay: %d, want 200 (endpoints may still send traffic)", got)
	}
	// After the delay: the listener is gone and the idle connection closed.
	time.Sleep(time.Until(signalled.Add(delay + 500*time.Millisecond)))
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("a new connection was accepted after the shutdown delay")
	}
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idleReader.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("the idle keep-alive connection: read %d bytes, %v; want it closed (EOF)", n, err)
	}
	select {
	case err := <-exited:
		t.Fatalf("the process exited with a request in flight: %v", err)
	default:
	}
	// The request in flight completes, in full, after the listener closed.
	if _, err := io.WriteString(inFlight, form[10:]); err != nil {
		t.Fatalf("finishing the request in flight: %v", err)
	}
	_ = inFlight.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(inFlight), nil)
	if err != nil {
		t.Fatalf("the request in flight got no response: %v", err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Errorf("the request in flight: %d, %v, token %t", resp.StatusCode, err, body.AccessToken != "")
	}
	if !resp.Close {
		t.Error("the last response does not close its connection")
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the process exited with %v, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the process did not exit once drained")
	}
	if !strings.Contains(logs.String(), "drained") {
		t.Errorf("no drain in the log:\n%s", logs.String())
	}
	// Every line names the Tenant as the manager's lines do.
	doc := issuertest.Doc(t, base)
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !strings.Contains(line, "tenant="+doc.Tenant.Namespace+"/"+doc.Tenant.Name) {
			t.Errorf("a log line without the Tenant: %s", line)
		}
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
