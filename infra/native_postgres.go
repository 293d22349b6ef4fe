package infra

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresBinary is a PostgreSQL installation: initdb and postgres from one bin directory.
type postgresBinary struct {
	bin     string // directory of initdb and postgres
	version string // `postgres --version`, e.g. "postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"
}

// postgresBinDirs lists where distributions put the server: Debian and Ubuntu keep one directory per major
// version under /usr/lib/postgresql (newest first here), Homebrew and source builds put it on PATH.
func postgresBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	return append(dirs, "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin", "/usr/bin")
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func findPostgres(ctx context.Context) (postgresBinary, error) {
	var initdb string
	for _, d := range postgresBinDirs() {
		if p, err := findBinary([]string{"initdb"}, d); err == nil && filepath.Dir(p) == d {
			initdb = p
			break
		}
	}
	if initdb == "" {
		p, err := findBinary([]string{"initdb"})
		if err != nil {
			return postgresBinary{}, fmt.Errorf("no PostgreSQL server (initdb): %w", err)
		}
		initdb = p
	}
	// A symlink on PATH (/usr/local/bin/initdb) must lead to the directory that also holds postgres.
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = real
	}
	b := postgresBinary{bin: filepath.Dir(initdb)}
	out, err := exec.CommandContext(ctx, filepath.Join(b.bin, "postgres"), "--version").Output()
	if err != nil {
		return postgresBinary{}, fmt.Errorf("%s --version: %w", filepath.Join(b.bin, "postgres"), err)
	}
	b.version = strings.TrimSpace(string(out))
	return b, nil
}

// postgresTemplate returns a data directory made by initdb once per server version; each start copies it.
func postgresTemplate(ctx context.Context, b postgresBinary, u serverUser) (string, error) {
	sum := sha256.Sum256([]byte(b.bin + "\n" + b.version + "\n" + strconv.Itoa(u.uid)))
	final := filepath.Join(workRoot(), "template_postgres_"+hex.EncodeToString(sum[:6]))
	if st, err := os.Stat(final); err == nil && st.IsDir() {
		return final, nil
	}
	tmp, err := newWorkDir("pgtemplate")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	if err := u.own(tmp); err != nil {
		return "", fmt.Errorf("give %s to the server's user: %w", tmp, err)
	}
	data := filepath.Join(tmp, "data")
	// trust on loopback only: the server listens on 127.0.0.1 and a Unix socket in its own directory.
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	cmd.Dir = tmp
	cmd.SysProcAttr = u.apply(childAttr())
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %w\n%s", err, lastLines(string(out), 15))
	}
	return storeTemplate(data, final)
}

// startNativePostgres starts a server on a free loopback port in a fresh work directory. PostgreSQL refuses
// to run as root, so as root it runs as the postgres user the distribution's package created (or nobody).
func startNativePostgres(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	b, err := findPostgres(ctx)
	if err != nil {
		return nil, err
	}
	u, err := unprivilegedUser("postgres")
	if err != nil {
		return nil, err
	}
	if err := u.canReach(workRoot()); err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, and %w; set TMPDIR to a directory every user can enter", err)
	}
	tmpl, err := postgresTemplate(ctx, b, u)
	if err != nil {
		return nil, err
	}
	dir, data, err := workDirFromTemplate(PostgresService, tmpl)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Instance, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	// The server checks that its data directory is private to its user.
	if err := os.Chmod(data, 0o700); err != nil {
		return fail(err)
	}
	if err := u.own(dir); err != nil {
		return fail(fmt.Errorf("give %s to the server's user: %w", dir, err))
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	p, err := startProcWith(procOptions{user: u}, dir, "postgres.log", filepath.Join(b.bin, "postgres"),
		"-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+dir,
		// Tests need isolation and locking, not durability across a power loss.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=300",
		"-c", "max_prepared_transactions=64", // PREPARE TRANSACTION, PostgreSQL's two-phase commit
	)
	if err != nil {
		return fail(err)
	}
	stop := func(ctx context.Context) error {
		if !p.exited() {
			_ = interruptGroup(p.cmd.Process.Pid)
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
			}
		}
		return p.stop(ctx)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dsn := postgresDSN(addr, "", "postgres")
	var version string
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := p.waitReady(readyCtx, func(ctx context.Context) (err error) {
		version, err = postgresVersion(ctx, dsn)
		return err
	}); err != nil {
		_ = stop(context.Background())
		return fail(err)
	}
	return &Instance{
		Service: PostgresService, Provider: ProviderNative, Addr: addr, AdminDSN: dsn, Version: version,
		Started: time.Since(begin),
		Stop: func(ctx context.Context) error {
			return errors.Join(stop(ctx), os.RemoveAll(dir))
		},
		pid: p.cmd.Process.Pid, dir: dir,
	}, nil
}

// postgresDSN returns the URL of user postgres at addr, database db, without TLS (loopback only).
func postgresDSN(addr, password, db string) string {
	u := url.URL{Scheme: "postgres", Host: addr, Path: "/" + db, RawQuery: "sslmode=disable"}
	if password == "" {
		u.User = url.User("postgres")
	} else {
		u.User = url.UserPassword("postgres", password)
	}
	return u.String()
}

// postgresVersion connects with dsn and returns what the server calls itself.
func postgresVersion(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "", fmt.Errorf("query PostgreSQL version: %w", err)
	}
	return "PostgreSQL " + v, nil
}
