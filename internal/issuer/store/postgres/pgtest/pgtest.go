// Package pgtest gives tests a real PostgreSQL server: the one
// IDTENANT_TEST_POSTGRES_URL names, or a throwaway server started from the
// Debian packages (initdb into a temporary directory, a random port on
// 127.0.0.1, run as an unprivileged user when the tests run as root). Each
// caller gets its own database on that server, so tests never see each
// other's rows. No mock of the database anywhere.
//
// A package using it calls Main from its TestMain, which stops the server
// it started once the tests are done.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names a server to use instead of starting one: a connection URL
// of a role that may create databases (postgres://user:pass@host/db).
const EnvURL = "IDTENANT_TEST_POSTGRES_URL"

// EnvRequire makes a missing PostgreSQL fail the tests instead of skipping
// them (CI sets it).
const EnvRequire = "IDTENANT_REQUIRE_POSTGRES"

var (
	once    sync.Once
	shared  *Server
	initErr error
)

// Server is a running PostgreSQL server.
type Server struct {
	// URL reaches the server's maintenance database as a superuser.
	URL string
	// Dir and Bin are set for a server started here.
	Dir, Bin string
	cmd      *exec.Cmd
	cred     *syscall.Credential
	logFile  string
	// stoppedArgs are the command line of a server Down stopped.
	stoppedArgs []string
}

// Main runs the tests of a package and stops the server they started.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the server Shared started, if any (for a TestMain that
// does more than Main).
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Shared returns the package's server, starting it on first use; it skips
// the test when there is no PostgreSQL (fails with EnvRequire set).
func Shared(tb testing.TB) *Server {
	tb.Helper()
	once.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared = &Server{URL: u}
			return
		}
		shared, initErr = Start(filepath.Join(os.TempDir(), "idtenant-pg"), Options{})
	})
	if initErr != nil {
		if errors.Is(initErr, errNoPostgres) && os.Getenv(EnvRequire) == "" {
			tb.Skipf("%v (set %s to use a server of yours)", initErr, EnvURL)
		}
		tb.Fatalf("starting PostgreSQL: %v", initErr)
	}
	return shared
}

// Database creates a fresh database on the shared server for tb and
// returns its URL; the database is dropped when tb ends.
func Database(tb testing.TB) string {
	tb.Helper()
	s := Shared(tb)
	u, err := s.CreateDatabase(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.DropDatabase(context.Background(), u) })
	return u
}

var errNoPostgres = errors.New("no PostgreSQL server binaries found (apt-get install postgresql)")

// Options tune a started server.
type Options struct {
	// Durable keeps PostgreSQL's defaults (fsync, full page writes), as a
	// benchmark measuring a real deployment wants; tests turn them off.
	Durable bool
}

// Start initialises and starts a server under a new directory in parent.
func Start(parent string, opts Options) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(parent, "pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Bin: bin, logFile: filepath.Join(dir, "server.log")}
	// initdb and postgres refuse to run as root: run them as the postgres
	// user the Debian package creates (or nobody).
	if os.Geteuid() == 0 {
		if s.cred, err = unprivileged(); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := s.run(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "max_connections=200", "-c", "shared_buffers=128MB"}
	if !opts.Durable {
		args = append(args, "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off")
	}
	logf, err := os.Create(s.logFile)
	if err != nil {
		return nil, err
	}
	if s.cred != nil {
		_ = logf.Chown(int(s.cred.Uid), int(s.cred.Gid))
	}
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	if err := s.waitAccepting(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitAccepting waits until the server accepts connections (30 s at most).
func (s *Server) waitAccepting() error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := pgx.Connect(context.Background(), s.URL)
		if err == nil {
			return conn.Close(context.Background())
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.logFile)
			return fmt.Errorf("postgres did not accept connections within 30s: %w\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop stops a server started here (fast shutdown) and removes its files.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		if s.Dir != "" {
			_ = os.RemoveAll(s.Dir)
		}
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
	_ = os.RemoveAll(s.Dir)
}

// Restart stops the server (fast shutdown: connections are cut) and
// starts it again on the same port and data after down, as a database
// restart in production; it returns once the server accepts connections.
func (s *Server) Restart(down time.Duration) error {
	if err := s.Down(); err != nil {
		return err
	}
	time.Sleep(down)
	return s.Up()
}

// Down stops a server started here, keeping its data (Up starts it again).
func (s *Server) Down() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return errors.New("pgtest: only a server started here can be stopped")
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	_ = s.cmd.Wait()
	s.stoppedArgs, s.cmd = s.cmd.Args, nil
	return nil
}

// Up starts a server Down stopped and waits until it accepts connections.
func (s *Server) Up() error {
	if s.stoppedArgs == nil {
		return errors.New("pgtest: the server is not down")
	}
	logf, err := os.OpenFile(s.logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(s.stoppedArgs[0], s.stoppedArgs[1:]...)
	s.stoppedArgs = nil
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	return s.waitAccepting()
}

// CreateDatabase creates a database with a random name and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return "", fmt.Errorf("connecting to %s: %w", redacted(s.URL), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database: %w", err)
	}
	u, _ := url.Parse(s.URL)
	u.Path = "/" + name
	return u.String(), nil
}

// DropDatabase drops the database u names, cutting its connections.
func (s *Server) DropDatabase(ctx context.Context, u string) error {
	parsed, err := url.Parse(u)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, s.URL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{parsed.Path[1:]}.Sanitize()+" WITH (FORCE)")
	return err
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	return cmd.CombinedOutput()
}

// binDir finds the newest installed PostgreSQL's binaries.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errNoPostgres
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func unprivileged() (*syscall.Credential, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and no postgres or nobody user to run PostgreSQL as")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// redacted drops a URL's password, for messages.
func redacted(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparseable URL)"
}
