// Package postgres runs a throw-away PostgreSQL server for tests: Debian's
// postgresql package, initdb into a fresh temporary directory, postgres on
// a free loopback port, stopped and removed when the test ends.
//
// The server is real; only its durability is traded for speed (fsync,
// synchronous commit and full-page writes off), which no test relies on:
// a crash a test stages is one of stint's processes, never the server's.
// Run as root (as CI does), initdb and postgres run as the unprivileged
// user nobody, since PostgreSQL refuses to run as root. Local connections
// are trusted, so a test connects as the superuser without a password;
// Options.HBA replaces that rule for a test of password authentication.
//
// A missing installation fails the test, never skips it: a database test
// that does not run must not pass. `.ci/run` installs the package.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Options configures a server.
type Options struct {
	// HBA, when set, replaces the authentication rules (pg_hba.conf).
	HBA string
}

// Server is a running PostgreSQL.
type Server struct {
	dir  string
	port int
	cmd  *exec.Cmd
	dbs  atomic.Int64
}

// Start runs a server until the test ends.
func Start(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := start(o)
	if err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	tb.Cleanup(s.stop)
	return s
}

// URL is the address of database db as the superuser postgres.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Port is the port the server listens on, on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Database creates an empty database of its own for a test and returns its
// URL; it is dropped with the server.
func (s *Server) Database(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%d", s.dbs.Add(1))
	if err := s.Exec("postgres", "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("postgres: %v", err)
	}
	return s.URL(name)
}

// Exec runs statements in database db as the superuser.
func (s *Server) Exec(db, statements string) error {
	conn, err := sql.Open("pgx", s.URL(db))
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.Exec(statements)
	return err
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *Server) Kill() { s.cmd.Process.Kill() }

func (s *Server) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(s.dir)
}

func start(o Options) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	// Not t.TempDir: its parents are private to root, and the server may
	// run as nobody.
	dir, err := os.MkdirTemp("", "stint-postgres-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	cred, err := unprivileged(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if o.HBA != "" {
		if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(o.HBA), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if cred != nil {
			os.Chown(filepath.Join(data, "pg_hba.conf"), int(cred.Uid), int(cred.Gid))
		}
	}
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if err = s.run(bin, data, cred); err == nil {
			return s, nil
		}
		if attempt == 2 { // a port taken in between is worth another try
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// run starts postgres and waits until it answers.
func (s *Server) run(bin, data string, cred *syscall.Credential) error {
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(s.port),
		"-c", "unix_socket_directories=", "-c", "max_connections=300",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { s.cmd.Process.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ping(ctx, s.URL("postgres"))
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			s.cmd.Process.Kill()
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("postgres did not answer in 30 s: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ping(ctx context.Context, url string) error {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.PingContext(ctx)
}

// binDir finds PostgreSQL's programs: on PATH, or where Debian's packages
// put them (/usr/lib/postgresql/<version>/bin), the newest version first.
func binDir() (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL is not installed (no postgres and initdb on PATH or in /usr/lib/postgresql/*/bin): install Debian's postgresql package, as .ci/run does")
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// unprivileged gives dir to nobody and returns the credential to run the
// server with when this process is root; nil otherwise.
func unprivileged(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	const nobody = 65534
	if err := os.Chown(dir, nobody, nobody); err != nil {
		return nil, fmt.Errorf("give %s to nobody: %w", dir, err)
	}
	return &syscall.Credential{Uid: nobody, Gid: nobody}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
