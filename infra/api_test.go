package infra

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	consulapi "github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// TestMySQLNamespaces checks that each call gets its own database and that cleanup drops it.
func TestMySQLNamespaces(t *testing.T) {
	var first, second string
	t.Run("two calls", func(t *testing.T) {
		first, second = MySQL(t), MySQL(t)
		if first == second {
			t.Fatalf("MySQL(t) twice = %q both times, want two databases", first)
		}
		db, err := sql.Open("mysql", first)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec("CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
			t.Fatalf("CREATE TABLE in a fresh database: %v", err)
		}
	})
	inst, err := shared(MySQLService)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", inst.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for _, dsn := range []string{first, second} {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(cfg.DBName, "lab_") {
			t.Errorf("database name = %q, want prefix lab_", cfg.DBName)
		}
		var n int
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", cfg.DBName).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("database %s still exists after its test ended", cfg.DBName)
		}
	}
}

// TestRedisNamespaces checks that each call gets its own prefix and that cleanup deletes its keys.
func TestRedisNamespaces(t *testing.T) {
	var ep RedisEndpoint
	t.Run("write", func(t *testing.T) {
		ep = Redis(t)
		if other := Redis(t); other.Prefix == ep.Prefix {
			t.Fatalf("Redis(t) twice gave prefix %q both times", ep.Prefix)
		}
		c := redis.NewClient(&redis.Options{Addr: ep.Addr})
		defer c.Close()
		if err := c.Set(context.Background(), ep.Prefix+"k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	c := redis.NewClient(&redis.Options{Addr: ep.Addr})
	defer c.Close()
	if err := c.Get(context.Background(), ep.Prefix+"k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET %sk after its test ended: err = %v, want redis.Nil", ep.Prefix, err)
	}
}

// TestOwnConsulRestartsAtTheSameAddress is what chapter 05 relies on: stop the agent, see clients fail, start it again.
func TestOwnConsulRestartsAtTheSameAddress(t *testing.T) {
	own := OwnConsul(t)
	c, err := consulapi.NewClient(&consulapi.Config{Address: own.Endpoint.Addr})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status().Leader(); err != nil {
		t.Fatalf("leader before Stop: %v", err)
	}
	own.Stop(t)
	if _, err := c.Status().Leader(); err == nil {
		t.Fatalf("leader while stopped: no error, want a connection error")
	}
	own.Start(t)
	leader, err := c.Status().Leader()
	if err != nil || leader == "" {
		t.Fatalf("leader after Start = %q, %v; want a leader at the same address", leader, err)
	}
	if !strings.HasPrefix(own.Endpoint.Prefix, "lab-") {
		t.Errorf("prefix = %q, want lab-...", own.Endpoint.Prefix)
	}
}

// TestEnvProvider checks that endpoints given in the environment are used as they are, and that a dead one is an error.
func TestEnvProvider(t *testing.T) {
	redisInst, err := inprocessProvider{}.Start(context.Background(), RedisService)
	if err != nil {
		t.Fatal(err)
	}
	defer redisInst.Stop(context.Background())

	t.Setenv(EnvRedisAddr, redisInst.Addr)
	if err := (envProvider{}).Available(context.Background(), RedisService); err != nil {
		t.Fatalf("Available(redis) with %s set: %v", EnvRedisAddr, err)
	}
	got, err := envProvider{}.Start(context.Background(), RedisService)
	if err != nil {
		t.Fatalf("Start(redis): %v", err)
	}
	if got.Addr != redisInst.Addr || got.Provider != ProviderEnv || got.Stop != nil {
		t.Errorf("Start(redis) = {Addr:%s Provider:%s Stop:%v}, want {Addr:%s Provider:env Stop:nil}", got.Addr, got.Provider, got.Stop != nil, redisInst.Addr)
	}
	if env := EnvFor(got); len(env) != 1 || env[0] != EnvRedisAddr+"="+redisInst.Addr {
		t.Errorf("EnvFor = %q, want %s=%s", env, EnvRedisAddr, redisInst.Addr)
	}

	t.Setenv(EnvRedisAddr, "127.0.0.1:1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := (envProvider{}).Start(ctx, RedisService); err == nil {
		t.Errorf("Start(redis) with %s=127.0.0.1:1: no error, want one", EnvRedisAddr)
	}
	// A port that accepts and never answers: the probe gives up on its own deadline, naming the variable.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	t.Setenv(EnvRedisAddr, silent.Addr().String())
	old := envProbeTimeout
	envProbeTimeout = 200 * time.Millisecond
	defer func() { envProbeTimeout = old }()
	begin := time.Now()
	_, err = envProvider{}.Start(context.Background(), RedisService) // no deadline of the caller's
	if err == nil || !strings.Contains(err.Error(), EnvRedisAddr+"=") || time.Since(begin) > 2500*time.Millisecond /* go-redis alone would wait its 3s read timeout */ {
		t.Errorf("Start(redis) with a silent %s = %v after %v, want an error naming the variable within about %v",
			EnvRedisAddr, err, time.Since(begin), envProbeTimeout)
	}
	t.Setenv(EnvRedisAddr, "")
	if err := (envProvider{}).Available(context.Background(), RedisService); err == nil {
		t.Errorf("Available(redis) with %s empty: no error, want one", EnvRedisAddr)
	}
}

// TestSession checks that a session's Env points the env provider at its servers, and that Close stops them.
func TestSession(t *testing.T) {
	t.Setenv("LAB_INFRA", "inprocess")
	s, err := StartSession(context.Background(), []Service{RedisService, KafkaService, RedisService}, t.Logf)
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	if len(s.Instances) != 2 || len(s.Env) != 2 {
		t.Fatalf("StartSession(redis, kafka, redis) gave %d instances and env %v, want 2 and 2", len(s.Instances), s.Env)
	}
	for _, kv := range s.Env {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
	t.Setenv("LAB_INFRA", "env")
	for _, svc := range []Service{RedisService, KafkaService} {
		if _, err := startFirst(context.Background(), svc); err != nil {
			t.Errorf("env provider with the session's Env, %s: %v", svc, err)
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, inst := range s.Instances {
		if inst.Service == RedisService {
			if _, err := redisVersion(ctx, inst.Addr); err == nil {
				t.Errorf("Redis at %s still answers after Close", inst.Addr)
			}
		}
	}
}

func TestDoctor(t *testing.T) {
	t.Setenv("LAB_INFRA", "inprocess")
	reports := Doctor(context.Background(), []Service{RedisService, MySQLService})
	if len(reports) != 2 {
		t.Fatalf("Doctor(redis, mysql) gave %d reports, want 2", len(reports))
	}
	redisReport, mysqlReport := reports[0], reports[1]
	if redisReport.Err != nil || redisReport.Provider != ProviderInprocess || redisReport.Version == "" {
		t.Errorf("Doctor redis = {Provider:%q Version:%q Err:%v}, want inprocess with a version and no error",
			redisReport.Provider, redisReport.Version, redisReport.Err)
	}
	var ue *UnavailableError
	if !errors.As(mysqlReport.Err, &ue) {
		t.Errorf("Doctor mysql with LAB_INFRA=inprocess: Err = %v, want *UnavailableError", mysqlReport.Err)
	}
	if len(mysqlReport.Providers) != 1 || !mysqlReport.Providers[0].Unsupported {
		t.Errorf("Doctor mysql providers = %+v, want one, inprocess, marked unsupported", mysqlReport.Providers)
	}
}

// TestMySQLLockWaitIsShort checks that a lock held by a forgotten transaction fails a waiter within seconds
// (error 1205), not after the server's default of 50 s, on every connection of a MySQL(t) pool.
func TestMySQLLockWaitIsShort(t *testing.T) {
	db, err := sql.Open("mysql", MySQL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY, n INT) ENGINE=InnoDB"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	holder, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "UPDATE t SET n = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}

	var secs int
	if err := db.QueryRowContext(ctx, "SELECT @@SESSION.innodb_lock_wait_timeout").Scan(&secs); err != nil {
		t.Fatal(err)
	}
	if want := int(MySQLLockWaitTimeout / time.Second); secs != want {
		t.Fatalf("@@SESSION.innodb_lock_wait_timeout = %d, want %d", secs, want)
	}
	begin := time.Now()
	_, err = db.ExecContext(ctx, "UPDATE t SET n = 2 WHERE id = 1") // a second connection of the pool
	waited := time.Since(begin)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1205 {
		t.Fatalf("UPDATE of a row locked by another transaction = %v, want error 1205 (lock wait timeout)", err)
	}
	// The server checks lock waits about once a second; 3x the timeout leaves room for a loaded machine.
	if waited < MySQLLockWaitTimeout-time.Second || waited > 3*MySQLLockWaitTimeout {
		t.Fatalf("lock wait lasted %v, want about %v", waited, MySQLLockWaitTimeout)
	}
}
