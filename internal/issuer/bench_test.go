package issuer

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
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
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/idtenant/idtenant/api/v1alpha1"
	"github.com/idtenant/idtenant/internal/issuer/issuertest"
	signing "github.com/idtenant/idtenant/internal/issuer/signing"
	"github.com/idtenant/idtenant/internal/issuerconfig"
	"github.com/idtenant/idtenant/internal/render"
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
	// With IDTENANT_BENCH_CPUPROFILE set, the whole run is profiled; the raw
	// signing samples carry the label phase=raw (pprof -tagignore
	// phase=raw leaves the issuer's own work).
	if prof := os.Getenv("IDTENANT_BENCH_CPUPROFILE"); prof != "" {
		if f, err := os.Create(prof); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	fmt.Println("READY")
	// Commands on stdin: "raw <alg> <duration>" signs with the issuer's
	// active key for alg on this process's core for that long and answers
	// "<signatures> <seconds>"; EOF stops.
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var alg, d string
		if n, _ := fmt.Sscanf(in.Text(), "raw %s %s", &alg, &d); n != 2 {
			continue
		}
		dur, _ := time.ParseDuration(d)
		key := srv.cfg.Load().keys.Active[v1alpha1.SigningAlgorithm(alg)]
		pprof.Do(context.Background(), pprof.Labels("phase", "raw"), func(context.Context) {
			n, took := rawSigns(key.Priv, dur)
			fmt.Printf("%d %f\n", n, took.Seconds())
		})
	}
	return 0
}

// child is the issuer process under load.
type child struct {
	issuer string
	pid    int
	in     io.Writer
	out    *bufio.Reader
}

// rawSigns asks the child to sign for d on its own core with the key the
// issuer uses for alg.
func (c *child) rawSigns(b *testing.B, alg string, d time.Duration) (int, time.Duration) {
	fmt.Fprintf(c.in, "raw %s %s\n", alg, d)
	line, err := c.out.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var n int
	var secs float64
	if _, err := fmt.Sscan(line, &n, &secs); err != nil {
		b.Fatalf("child answered %q: %v", line, err)
	}
	return n, time.Duration(secs * float64(time.Second))
}

// startChildIssuer runs the issuer for doc on one core and returns its URL.
func startChildIssuer(b *testing.B, mutate func(*issuerconfig.Document)) *child {
	addr := freeAddrB(b)
	issuer := "http://" + addr
	doc := issuertest.Doc(b, issuer)
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
	for _, e := range render.IssuerRuntimeEnv() { // as deployed
		cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
	}
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
	if _, err := fmt.Sscan(f[11], &ut); err != nil {
		return 0
	}
	if _, err := fmt.Sscan(f[12], &st); err != nil {
		return 0
	}
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

// loadGen sends one pre-encoded HTTP/1.1 request over keep-alive
// connections and checks every answer is a 200. It is deliberately lean
// (one goroutine per connection, the standard response parser, no
// Transport): on a two-core machine it has one core, and net/http's client
// costs more CPU per request than the issuer's work besides signing.
type loadGen struct {
	conns []*bufio.ReadWriter
	close []io.Closer
	req   []byte
}

// newLoadGen dials conns connections. With poll set, their reads spin on
// the non-blocking socket instead of sleeping in the kernel.
//
// Why poll: on loopback the issuer's write system call runs the client's
// TCP receive path and, if the client sleeps, wakes it — on this VM an
// inter-processor interrupt costing ~30 µs, charged to the issuer's core.
// A client across a network does not make the issuer's write wake it (the
// issuer still pays for its own send and the ACKs); a polling generator
// removes the wake-up, so the issuer's core measures the issuer. The
// benchmark reports both.
func newLoadGen(issuer string, req []byte, conns int, poll bool) (*loadGen, error) {
	g := &loadGen{req: req}
	for i := 0; i < conns; i++ {
		c, err := net.Dial("tcp", strings.TrimPrefix(issuer, "http://"))
		if err != nil {
			g.Close()
			return nil, err
		}
		var r io.Reader = c
		if poll {
			r = newPollingReader(c.(*net.TCPConn))
		}
		g.conns = append(g.conns, bufio.NewReadWriter(bufio.NewReader(r), bufio.NewWriter(c)))
		g.close = append(g.close, c)
	}
	return g, nil
}

func (g *loadGen) Close() {
	for _, c := range g.close {
		c.Close()
	}
}

// run sends n requests spread over the connections.
func (g *loadGen) run(n int) error {
	left := int64(n)
	errs := make(chan error, len(g.conns))
	for _, rw := range g.conns {
		go func() {
			for atomic.AddInt64(&left, -1) >= 0 {
				if _, err := rw.Write(g.req); err != nil {
					errs <- err
					return
				}
				if err := rw.Flush(); err != nil {
					errs <- err
					return
				}
				resp, err := http.ReadResponse(rw.Reader, nil)
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
	for range g.conns {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// pollingReader reads a TCP connection without ever sleeping in the kernel:
// the Go runtime sets sockets non-blocking, and on EAGAIN this yields to
// the other connections' goroutines and tries again.
type pollingReader struct{ raw syscall.RawConn }

func newPollingReader(c *net.TCPConn) *pollingReader {
	raw, _ := c.SyscallConn()
	return &pollingReader{raw}
}

func (p *pollingReader) Read(buf []byte) (int, error) {
	var n int
	var err error
	if cerr := p.raw.Read(func(fd uintptr) bool {
		for {
			n, err = syscall.Read(int(fd), buf)
			if err != syscall.EAGAIN && err != syscall.EINTR {
				return true
			}
			runtime.Gosched()
		}
	}); cerr != nil {
		return 0, cerr
	}
	switch {
	case err != nil:
		return 0, err
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// rawSigns signs a payload the size of an access token's claims with
// signDigest — the issuer's own signature function — for d, on one
// goroutine.
func rawSigns(signer crypto.Signer, d time.Duration) (int, time.Duration) {
	payload := []byte(strings.Repeat("x", 300))
	// Timed by hand: testing.Benchmark cannot run inside a benchmark.
	n, start := 0, time.Now()
	for time.Since(start) < d {
		for i := 0; i < 5; i++ {
			sum := sha256.Sum256(payload)
			if _, err := signing.SignDigest(signer, sum[:]); err != nil {
				panic(err)
			}
		}
		n += 5
	}
	return n, time.Since(start)
}

// BenchmarkClientCredentials measures token endpoint throughput over
// loopback HTTP with keep-alive, against the issuer on one core, and
// reports it beside the raw signing rate of the same key measured in the
// same run, on the same core.
//
// This VM's speed drifts by tens of percent within seconds (a shared host),
// so the load is cut into rounds with a short raw signing measurement
// before each round and after the last: the ratio compares the two over
// the same stretch of time.
//
// The /polling-client variants (the ones issue 3's targets are read
// against) use a load generator that never sleeps; /sleeping-client the
// ordinary blocking one, whose wake-ups the issuer pays for on loopback.
func BenchmarkClientCredentials(b *testing.B) {
	issuertest.Keys(b)
	for _, c := range []struct{ alg, aud string }{
		{"RS256", "https://orders.acme.test"},
		{"ES256", "https://payments.acme.test"},
	} {
		for _, poll := range []bool{true, false} {
			name := c.alg + map[bool]string{true: "/polling-client", false: "/sleeping-client"}[poll]
			b.Run(name, func(b *testing.B) {
				if poll && !ownCore() {
					b.Skip("a polling load generator needs a core the issuer does not use (run it through hack/bench.sh)")
				}
				benchClientCredentials(b, c.alg, c.aud, poll)
			})
		}
	}
}

func benchClientCredentials(b *testing.B, alg, aud string, poll bool) {
	ch := startChildIssuer(b, nil)
	body := url.Values{"grant_type": {"client_credentials"}, "audience": {aud}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, ch.issuer+PathToken, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("m2m.shop", issuertest.Secrets["m2m.shop"])
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		b.Fatal(err)
	}
	gen, err := newLoadGen(ch.issuer, wire.Bytes(), 16, poll)
	if err != nil {
		b.Fatal(err)
	}
	defer gen.Close()
	if err := gen.run(200); err != nil { // warm up
		b.Fatal(err)
	}
	const rounds = 8
	rawSlice := 300 * time.Millisecond
	b.ResetTimer()
	var signs int
	var signTime, loadTime, issuerCPU, selfCPU time.Duration
	for i := 0; i < rounds; i++ {
		b.StopTimer()
		n, d := ch.rawSigns(b, alg, rawSlice)
		signs, signTime = signs+n, signTime+d
		b.StartTimer()
		cpu0, self0, start := procCPU(ch.pid), procCPU(os.Getpid()), time.Now()
		if err := gen.run(b.N/rounds + boolInt(i < b.N%rounds)); err != nil {
			b.Fatal(err)
		}
		loadTime += time.Since(start)
		issuerCPU += procCPU(ch.pid) - cpu0
		selfCPU += procCPU(os.Getpid()) - self0
	}
	n, d := ch.rawSigns(b, alg, rawSlice)
	signs, signTime = signs+n, signTime+d
	b.StopTimer()
	rate := float64(b.N) / loadTime.Seconds()
	raw := float64(signs) / signTime.Seconds()
	b.ReportMetric(rate, "tokens/s")
	b.ReportMetric(raw, "raw-signs/s")
	b.ReportMetric(rate/raw, "ratio")
	// How busy the load generator's core was: near 100% it, not the
	// issuer, may have set the pace (the polling one is always near 100%).
	b.ReportMetric(100*selfCPU.Seconds()/loadTime.Seconds(), "loadgen-cpu-%")
	if issuerCPU > 0 {
		// The issuer's own CPU per token and how busy its core was: below
		// 100% the load generator or the host, not the issuer, was the limit.
		perToken := issuerCPU.Seconds() * 1e6 / float64(b.N)
		b.ReportMetric(perToken, "issuer-µs/token")
		b.ReportMetric(100*issuerCPU.Seconds()/loadTime.Seconds(), "issuer-cpu-%")
		// The share of the issuer's CPU per token that signing takes.
		b.ReportMetric((1e6/raw)/perToken, "sign-share")
	}
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
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
			rounds := 0
			round := func() {
				if rounds++; rounds%50 == 0 {
					e.clock.Advance(time.Minute) // within the session's codes a minute
				}
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
