package infra

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// mysqlBinary is a server binary found on this machine: MariaDB (mariadbd) or Oracle MySQL (mysqld).
type mysqlBinary struct {
	server  string // mariadbd or mysqld
	install string // mariadb-install-db for MariaDB; empty for MySQL, whose server initializes itself
	mariadb bool
	version string // first line of --version
}

var mysqlSearchDirs = []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/local/mysql/bin", "/opt/homebrew/bin"}

func findMySQL(ctx context.Context) (mysqlBinary, error) {
	server, err := findBinary([]string{"mariadbd", "mysqld"}, mysqlSearchDirs...)
	if err != nil {
		return mysqlBinary{}, fmt.Errorf("no MySQL or MariaDB server: %w", err)
	}
	out, err := exec.CommandContext(ctx, server, "--version").CombinedOutput()
	if err != nil {
		return mysqlBinary{}, fmt.Errorf("%s --version: %w", server, err)
	}
	b := mysqlBinary{server: server, version: strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])}
	b.mariadb = strings.Contains(b.version, "MariaDB")
	if b.mariadb {
		dirs := append([]string{filepath.Dir(server), "/usr/bin", "/usr/local/mysql/scripts"}, mysqlSearchDirs...)
		if b.install, err = findBinary([]string{"mariadb-install-db", "mysql_install_db"}, dirs...); err != nil {
			return mysqlBinary{}, fmt.Errorf("MariaDB without its install script: %w", err)
		}
	}
	return b, nil
}

// Both the template and every server use the same small redo log, which keeps the data directory at about 26 MB.
const innodbLogSize = "--innodb-log-file-size=8M"

// mysqlTemplate returns a data directory initialized once per server version; each start copies it,
// which takes milliseconds where mariadb-install-db takes seconds.
func mysqlTemplate(ctx context.Context, b mysqlBinary) (string, error) {
	sum := sha256.Sum256([]byte(b.server + "\n" + b.version))
	final := filepath.Join(workRoot(), "template_mysql_"+hex.EncodeToString(sum[:6]))
	if st, err := os.Stat(final); err == nil && st.IsDir() {
		return final, nil
	}
	// Build under a name that sweepStale removes if this process dies half-way, then rename atomically.
	tmp, err := newWorkDir("mysqltemplate")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	data := filepath.Join(tmp, "data")
	var cmd *exec.Cmd
	if b.mariadb {
		args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db", innodbLogSize}
		cmd = exec.CommandContext(ctx, b.install, append(args, userFlag()...)...)
	} else {
		args := []string{"--no-defaults", "--initialize-insecure", "--datadir=" + data, innodbLogSize}
		cmd = exec.CommandContext(ctx, b.server, append(args, userFlag()...)...)
	}
	cmd.Dir = tmp
	cmd.SysProcAttr = childAttr()
	// mariadb-install-db is a script that runs the server: on cancel, kill its whole group, not the script alone.
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = 5 * time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initialize MySQL data directory with %s: %w\n%s", cmd.Path, err, lastLines(string(out), 15))
	}
	return storeTemplate(data, final)
}

// userFlag lets the server run as root, which it otherwise refuses.
func userFlag() []string {
	if os.Geteuid() == 0 {
		return []string{"--user=root"}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startNativeMySQL starts a server on a free loopback port in a fresh work directory.
func startNativeMySQL(ctx context.Context) (*Instance, error) {
	begin := time.Now()
	b, err := findMySQL(ctx)
	if err != nil {
		return nil, err
	}
	tmpl, err := mysqlTemplate(ctx, b)
	if err != nil {
		return nil, err
	}
	dir, data, err := workDirFromTemplate(MySQLService, tmpl)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Instance, error) {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	args := []string{
		"--no-defaults",
		"--datadir=" + data,
		"--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"),
		"--tmpdir=" + dir,
		"--port=" + strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		"--skip-networking=0",
		innodbLogSize,
		"--innodb-buffer-pool-size=64M",
		"--innodb-flush-log-at-trx-commit=2", // tests need isolation and locking, not durability across power loss
		"--character-set-server=utf8mb4",
		"--max-connections=500",
	}
	if b.mariadb {
		args = append(args, "--skip-name-resolve")
	} else {
		args = append(args, "--mysqlx=OFF")
	}
	p, err := startProc(dir, "mysqld.log", b.server, append(args, userFlag()...)...)
	if err != nil {
		return fail(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dsn := mysqlRootDSN(addr, "") // the template's root has no password and listens on loopback only
	var version string
	readyCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = p.waitReady(readyCtx, func(ctx context.Context) error {
		v, err := mysqlVersion(ctx, dsn)
		version = v
		return err
	})
	if err != nil {
		_ = p.stop(context.Background())
		return fail(err)
	}
	return &Instance{
		Service:  MySQLService,
		Provider: ProviderNative,
		Addr:     addr,
		AdminDSN: dsn,
		Version:  version,
		Started:  time.Since(begin),
		Stop: func(ctx context.Context) error {
			err := p.stop(ctx)
			return errors.Join(err, os.RemoveAll(dir))
		},
		pid: p.cmd.Process.Pid,
		dir: dir,
	}, nil
}

// mysqlRootDSN returns the DSN of root at addr, with parseTime=true.
func mysqlRootDSN(addr, password string) string {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd = "root", password
	cfg.Net, cfg.Addr = "tcp", addr
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// mysqlVersion connects with dsn and returns what the server calls itself.
func mysqlVersion(ctx context.Context, dsn string) (string, error) {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v); err != nil {
		return "", fmt.Errorf("query MySQL version: %w", err)
	}
	return v, nil
}
