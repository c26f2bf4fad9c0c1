package deploycheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"m3o.dev/services/store"
	"m3o.dev/services/store/cockroach"
)

// TestStoreClientCertificate runs the store's cockroach backend, with the
// DSN of the store's Deployment and the CockroachDB certificates of
// scripts/certs.sh, against a PostgreSQL server that takes TLS
// connections with a verified client certificate and nothing else
// (hostssl, clientcert=verify-full). CockroachDB cannot run here;
// PostgreSQL speaks the same protocol and checks certificates the same way.
func TestStoreClientCertificate(t *testing.T) {
	certs := t.TempDir()
	runCerts(t, certs)
	srv := startTLSPostgres(t, filepath.Join(certs, "cockroachdb"))
	base := storeDSN(t)
	rewrite := func(edit func(q url.Values)) string {
		u := *base
		u.Host = srv.addr
		q := u.Query()
		for _, k := range []string{"sslrootcert", "sslcert", "sslkey"} {
			if v := q.Get(k); v != "" {
				q.Set(k, filepath.Join(certs, "cockroachdb", path.Base(v)))
			}
		}
		edit(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	tests := []struct {
		name string
		dsn  string
		ok   bool
	}{
		{"the Deployment's DSN", rewrite(func(url.Values) {}), true},
		{"no client certificate", rewrite(func(q url.Values) { q.Del("sslcert"); q.Del("sslkey") }), false},
		{"no TLS", rewrite(func(q url.Values) { q.Set("sslmode", "disable") }), false},
		{"root's certificate for user store", rewrite(func(q url.Values) {
			q.Set("sslcert", filepath.Join(certs, "cockroachdb", "client.root.crt"))
			q.Set("sslkey", filepath.Join(certs, "cockroachdb", "client.root.key"))
		}), false},
		{"the platform CA's certificate of micro/store", rewrite(func(q url.Values) {
			q.Set("sslcert", filepath.Join(certs, "store.pem"))
			q.Set("sslkey", filepath.Join(certs, "store-key.pem"))
		}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := storeRoundTrip(t.Context(), tt.dsn)
			if tt.ok && err != nil {
				t.Errorf("store on %s: %v, want a working store", tt.dsn, err)
			}
			// 28000 is invalid_authorization_specification: the server
			// turned the connection away, as opposed to the client failing
			// to make one.
			var pgErr *pgconn.PgError
			if !tt.ok && (!errors.As(err, &pgErr) || pgErr.Code != "28000") {
				t.Errorf("store on %s: %v, want the server to refuse the connection (SQLSTATE 28000)", tt.dsn, err)
			}
		})
	}
}

// storeDSN returns MICRO_STORE_DSN of the production overlay's store.
func storeDSN(t *testing.T) *url.URL {
	t.Helper()
	for _, w := range workloads(t, renderOverlay(t, "production")) {
		if w.name != "store" {
			continue
		}
		dsn := envOf(w.template.Spec.Containers[0])["MICRO_STORE_DSN"]
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("MICRO_STORE_DSN %q: %v", dsn, err)
		}
		if q := u.Query(); q.Get("sslmode") != "verify-full" || u.User.Username() != "store" {
			t.Errorf("MICRO_STORE_DSN %q: want user store and sslmode=verify-full", dsn)
		}
		return u
	}
	t.Fatal("no store Deployment in the production overlay")
	return nil
}

// storeRoundTrip opens the cockroach backend on dsn, writes a record and
// reads it back.
func storeRoundTrip(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	b, err := cockroach.Open(ctx, dsn, cockroach.Options{Table: "deploycheck"})
	if err != nil {
		return err
	}
	defer b.Close()
	tbl := store.Table{Database: "deploycheck", Name: "default"}
	if _, err := b.Put(ctx, tbl, store.Record{Key: "k", Value: []byte("v")}, store.PutOptions{}); err != nil {
		return err
	}
	rec, err := b.Get(ctx, tbl, "k")
	if err == nil && string(rec.Value) != "v" {
		err = fmt.Errorf("read back %q, want %q", rec.Value, "v")
	}
	return err
}

// pgServer is a throwaway PostgreSQL server.
type pgServer struct {
	addr string
}

// startTLSPostgres starts PostgreSQL 15 in a temporary directory on a free
// loopback port, serving node.crt from certDir and requiring TCP clients
// to use TLS with a certificate of certDir's CA whose CN is their user
// name. The user store owns the database m3o. As root the server runs as
// the user postgres, since PostgreSQL refuses to run as root.
func startTLSPostgres(t *testing.T, certDir string) *pgServer {
	t.Helper()
	bin := pgBinDir(t)
	dir, cred := pgDir(t)
	data := filepath.Join(dir, "data")
	run(t, cred, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	for src, dst := range map[string]string{"ca.crt": "ca.crt", "node.crt": "server.crt", "node.key": "server.key"} {
		copyOwned(t, filepath.Join(certDir, src), filepath.Join(data, dst), cred)
	}
	// Unix-socket connections are how the test sets up users; over TCP,
	// certificates are the only way in.
	hba := "local all postgres trust\nhostssl all all 127.0.0.1/32 cert clientcert=verify-full\n"
	writeOwned(t, filepath.Join(data, "pg_hba.conf"), hba, cred)
	port := startPostgres(t, cred, bin, dir)
	conn, err := pgx.Connect(t.Context(), socketDSN(dir, port))
	if err != nil {
		t.Fatalf("connect over the socket: %v", err)
	}
	defer conn.Close(context.Background())
	for _, sql := range []string{"CREATE ROLE store LOGIN", "CREATE DATABASE m3o OWNER store"} {
		if _, err := conn.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	return &pgServer{addr: "127.0.0.1:" + strconv.Itoa(port)}
}

// startPostgres runs the server on a free port and waits until it takes
// connections. It runs as a child of the test binary that dies with it,
// and is stopped when the test ends.
func startPostgres(t *testing.T, cred *syscall.Credential, bin, dir string) int {
	t.Helper()
	for attempt := 1; ; attempt++ {
		port := freeTCPPort(t)
		logPath := filepath.Join(dir, "server.log")
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(dir, "data"),
			"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(port), "-k", dir, "-c", "ssl=on",
			"-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key", "-c", "ssl_ca_file=ca.crt")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
		err = cmd.Start()
		logFile.Close()
		if err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		err = waitPostgres(t.Context(), dir, port, exited)
		if err == nil {
			t.Cleanup(func() {
				_ = cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown
				<-exited
			})
			return port
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		logData, _ := os.ReadFile(logPath)
		if attempt == 5 || !strings.Contains(string(logData), "already in use") {
			t.Fatalf("start PostgreSQL: %v\n%s", err, logData)
		}
	}
}

// waitPostgres polls until the server takes a connection on its socket,
// it exits, or a minute has passed.
func waitPostgres(ctx context.Context, dir string, port int, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, socketDSN(dir, port))
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("postgres exited: %v", werr)
		case <-ctx.Done():
			return fmt.Errorf("postgres not ready: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// socketDSN reaches the server through its Unix socket in dir.
func socketDSN(dir string, port int) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", dir, port)
}

// pgBinDir finds the PostgreSQL 15 binaries, or any installed version's.
func pgBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range append([]string{"/usr/lib/postgresql/15/bin"}, dirs...) {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if testing.Short() {
		t.Skip("-short: skipping a test that needs PostgreSQL")
	}
	t.Fatal("no PostgreSQL binaries under /usr/lib/postgresql; install postgresql-15")
	return ""
}

// pgDir makes the server's directory and returns it with the credential
// the server runs under: the user postgres as root, else none. t.TempDir
// would do, but the user postgres cannot enter it.
func pgDir(t *testing.T) (string, *syscall.Credential) {
	t.Helper()
	dir, err := os.MkdirTemp("", "m3o-pgtls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() != 0 {
		return dir, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("running as root, PostgreSQL needs the user postgres: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	return dir, &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// copyOwned copies src to dst, readable by the server's user only, as
// PostgreSQL requires of its key.
func copyOwned(t *testing.T, src, dst string, cred *syscall.Credential) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeOwned(t, dst, string(data), cred)
}

func writeOwned(t *testing.T, path, data string, cred *syscall.Credential) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if cred != nil {
		if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
}

func run(t *testing.T, cred *syscall.Credential, name string, args ...string) {
	t.Helper()
	if err := runErr(cred, name, args...); err != nil {
		t.Fatal(err)
	}
}

// runErr runs a PostgreSQL program as cred.
func runErr(cred *syscall.Credential, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = os.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return nil
}

// freeTCPPort returns a loopback port that was free a moment ago, for the
// server to bind; startTLSPostgres tries again if it was taken meanwhile.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
