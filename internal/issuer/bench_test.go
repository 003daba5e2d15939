package issuer

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuerconfig"
)

// The token endpoint benchmark runs the issuer in a child process (this
// test binary, re-executed) with GOMAXPROCS=1 and, where taskset exists,
// pinned to CPU 0, so "tokens per second on one core" means what it says;
// the load generator runs here. hack/bench.sh pins this process to CPU 1.
const benchServeEnv = "IDTENANT_BENCH_SERVE"

// benchServe is the child: serve the config at path on its issuer address
// until stdin closes.
func benchServe(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	doc, err := issuerconfig.Parse(data)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv, err := New(doc, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", strings.TrimPrefix(doc.Tenant.Spec.IssuerURL, "http://"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { _ = http.Serve(ln, srv) }()
	fmt.Println("READY")
	// Commands on stdin: "raw <alg>" measures the raw signing rate on this
	// process's core; EOF stops.
	// With IDTENANT_BENCH_CPUPROFILE set, the load between the two raw
	// measurements is profiled.
	in := bufio.NewScanner(os.Stdin)
	raws := 0
	for in.Scan() {
		if alg, ok := strings.CutPrefix(in.Text(), "raw "); ok {
			pprof.StopCPUProfile()
			key := srv.cfg.Load().keys.active[v1alpha1.SigningAlgorithm(alg)]
			fmt.Printf("%f\n", rawSignRate(key.priv))
			if raws++; raws == 1 {
				if prof := os.Getenv("IDTENANT_BENCH_CPUPROFILE"); prof != "" {
					if f, err := os.Create(prof); err == nil {
						_ = pprof.StartCPUProfile(f)
					}
				}
			}
		}
	}
	pprof.StopCPUProfile()
	return 0
}

// startChildIssuer runs the issuer for doc on one core and returns its URL.
type child struct {
	issuer string
	pid    int
	in     io.Writer
	out    *bufio.Reader
}

// rawSignRate asks the child for the raw signing rate on its own core.
func (c *child) rawSignRate(b *testing.B, alg string) float64 {
	fmt.Fprintf(c.in, "raw %s\n", alg)
	line, err := c.out.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var rate float64
	fmt.Sscan(line, &rate)
	return rate
}

func startChildIssuer(b *testing.B, mutate func(*issuerconfig.Document)) *child {
	addr := freeAddrB(b)
	issuer := "http://" + addr
	doc := testDoc(b, issuer)
	if mutate != nil {
		mutate(doc)
	}
	data, _ := json.Marshal(doc)
	path := filepath.Join(b.TempDir(), "config.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	argv := []string{os.Args[0], "-test.run=^$"}
	if tp, err := exec.LookPath("taskset"); err == nil {
		argv = append([]string{tp, "-c", "0"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), benchServeEnv+"="+path, "GOMAXPROCS=1")
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "READY" {
		b.Fatalf("child issuer did not start: %q %v", line, err)
	}
	return &child{issuer: issuer, pid: cmd.Process.Pid, in: stdin, out: out}
}

// procCPU is the CPU time (user + system) a process has used so far, from
// /proc (Linux); zero elsewhere. The child is exec'd by taskset, so its pid
// is the issuer's.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are the
	// 14th and 15th fields, in clock ticks (USER_HZ, 100 on Linux).
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func freeAddrB(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// load sends n copies of one pre-encoded HTTP/1.1 request over conns
// keep-alive connections and checks every answer is a 200. It is a
// deliberately lean load generator (one goroutine per connection, the
// standard response parser, no Transport): on a two-core machine the
// generator has one core, and net/http's client costs more CPU per request
// than the issuer's work besides signing, so it would measure itself.
func load(issuer string, request []byte, conns, n int) error {
	addr := strings.TrimPrefix(issuer, "http://")
	left := int64(n)
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		go func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close()
			r := bufio.NewReader(conn)
			for atomic.AddInt64(&left, -1) >= 0 {
				if _, err := conn.Write(request); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(r, nil)
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("status %d", resp.StatusCode)
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// rawSignRate is the single-goroutine signing rate of the key the issuer
// uses for alg, over a payload the size of an access token's claims.
func rawSignRate(signer crypto.Signer) float64 {
	payload := []byte(strings.Repeat("x", 300))
	// Timed by hand: testing.Benchmark cannot run inside a benchmark.
	n, start := 0, time.Now()
	for time.Since(start) < 2*time.Second {
		for i := 0; i < 10; i++ {
			sum := sha256.Sum256(payload)
			var err error
			switch k := signer.(type) {
			case *rsa.PrivateKey:
				_, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
			case *ecdsa.PrivateKey:
				_, _, err = ecdsa.Sign(rand.Reader, k, sum[:])
			}
			if err != nil {
				panic(err)
			}
		}
		n += 10
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkClientCredentials measures token endpoint throughput over
// loopback HTTP with keep-alive, against the issuer on one core, and
// reports it beside the raw signing rate of the same key measured in the
// same run.
func BenchmarkClientCredentials(b *testing.B) {
	testKeys(b)
	for _, c := range []struct{ alg, aud string }{
		{"RS256", "https://orders.acme.test"},
		{"ES256", "https://payments.acme.test"},
	} {
		b.Run(c.alg, func(b *testing.B) {
			ch := startChildIssuer(b, nil)
			issuer, pid := ch.issuer, ch.pid
			body := url.Values{"grant_type": {"client_credentials"}, "audience": {c.aud}}.Encode()
			req, _ := http.NewRequest(http.MethodPost, issuer+pathToken, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth("m2m.shop", testSecrets["m2m.shop"])
			var wire bytes.Buffer
			if err := req.Write(&wire); err != nil {
				b.Fatal(err)
			}
			rawBefore := ch.rawSignRate(b, c.alg)                      // same key, same core, same run
			if err := load(issuer, wire.Bytes(), 1, 200); err != nil { // warm up
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu0, self0 := procCPU(pid), procCPU(os.Getpid())
			start := time.Now()
			if err := load(issuer, wire.Bytes(), 16, b.N); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			cpu, self := procCPU(pid)-cpu0, procCPU(os.Getpid())-self0
			b.StopTimer()
			// How busy the load generator's core was: near 100% it, not the
			// issuer, set the pace.
			b.ReportMetric(100*self.Seconds()/elapsed.Seconds(), "loadgen-cpu-%")
			rate := float64(b.N) / elapsed.Seconds()
			// This VM's speed drifts (shared host): measure the raw rate
			// before and after the load and use the mean.
			raw := (rawBefore + ch.rawSignRate(b, c.alg)) / 2
			b.ReportMetric(rate, "tokens/s")
			b.ReportMetric(raw, "raw-signs/s")
			b.ReportMetric(rate/raw, "ratio")
			if cpu > 0 {
				// The issuer's own CPU per token and how busy its core was:
				// below 100% the load generator, not the issuer, was the limit.
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "issuer-µs/token")
				b.ReportMetric(100*cpu.Seconds()/elapsed.Seconds(), "issuer-cpu-%")
				// The share of the issuer's CPU that signing takes, which
				// does not depend on whether the load generator kept the
				// issuer's core busy.
				b.ReportMetric((1e6/raw)/(float64(cpu.Microseconds())/float64(b.N)), "sign-share")
			}
		})
	}
}

// BenchmarkCodePKCERoundTrip measures one full authorization-code + PKCE
// round trip over loopback HTTP: authorize, login page, password post
// (bcrypt at the test hash's cost), redirect with code, token exchange.
// The "sso" variant starts from an existing session (no login page).
func BenchmarkCodePKCERoundTrip(b *testing.B) {
	for _, sso := range []bool{false, true} {
		name := map[bool]string{false: "login", true: "sso"}[sso]
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, nil)
			br := e.browser()
			cfg := e.oauth2Config("spa.shop", "https://spa.acme.test/cb", "openid", "read:orders")
			round := func() {
				v := oauth2.GenerateVerifier()
				resp, body := br.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("audience", "https://orders.acme.test")), "alice", "correct horse")
				u, _ := url.Parse(resp.Header.Get("Location"))
				code := u.Query().Get("code")
				if code == "" {
					b.Fatalf("no code: %d %s", resp.StatusCode, body)
				}
				if _, err := cfg.Exchange(e.ctx, code, oauth2.VerifierOption(v)); err != nil {
					b.Fatal(err)
				}
				if !sso {
					br.client.Jar, _ = cookiejar.New(nil)
				}
			}
			round()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				round()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/roundtrip")
		})
	}
}
