package infra

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	consulapi "github.com/hashicorp/consul/api"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Each namespace function gives a test its own corner of a shared server and removes it at cleanup.
// Cleanup errors are logged, not failed: the server is disposable, and a failure there says nothing about the test.

const cleanupTimeout = 30 * time.Second

// mysqlNamespace creates database lab_<random> and returns its DSN; the database is dropped at cleanup.
func mysqlNamespace(t testing.TB, inst *Instance) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	name := "lab_" + randomID(6)
	if err := mysqlExec(ctx, inst.AdminDSN, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("%s create database on %s MySQL at %s: %v", UnavailablePrefix, inst.Provider, inst.Addr, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := mysqlExec(ctx, inst.AdminDSN, "DROP DATABASE IF EXISTS `"+name+"`"); err != nil {
			t.Logf("infra: drop database %s: %v", name, err)
		}
	})
	dsn, err := withDatabase(inst.AdminDSN, name)
	if err != nil {
		t.Fatalf("%s %v", UnavailablePrefix, err)
	}
	return dsn
}

// MySQLLockWaitTimeout is innodb_lock_wait_timeout on every connection opened with a DSN from MySQL(t).
// The server default is 50 s: a transaction left open on an error path (a missing Rollback) or a request that
// deadlocks with itself across two connections would stall a test for that long and then fail with a driver error
// that a go test timeout may never show. A few seconds is far above any lock wait a correct test sees.
const MySQLLockWaitTimeout = 5 * time.Second

// withDatabase returns adminDSN pointed at database name, with parseTime=true and a short lock wait timeout.
func withDatabase(adminDSN, name string) (string, error) {
	cfg, err := mysql.ParseDSN(adminDSN)
	if err != nil {
		return "", fmt.Errorf("parse MySQL DSN: %w", err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	// go-sql-driver sends every unknown parameter as SET <name>=<value> when it opens a connection, so this
	// holds for each connection of the pool, on MySQL and MariaDB, whichever provider serves.
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["innodb_lock_wait_timeout"] = strconv.Itoa(int(MySQLLockWaitTimeout / time.Second))
	return cfg.FormatDSN(), nil
}

func mysqlExec(ctx context.Context, dsn, stmt string) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return fmt.Errorf("open MySQL: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// redisNamespace returns the key prefix lab:<random>: ; its keys are deleted at cleanup.
func redisNamespace(t testing.TB, inst *Instance) RedisEndpoint {
	t.Helper()
	ep := RedisEndpoint{Addr: inst.Addr, Prefix: "lab:" + randomID(6) + ":"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := redisDeletePrefix(ctx, ep); err != nil {
			t.Logf("infra: delete Redis keys %s*: %v", ep.Prefix, err)
		}
	})
	return ep
}

func redisDeletePrefix(ctx context.Context, ep RedisEndpoint) error {
	c := redis.NewClient(&redis.Options{Addr: ep.Addr, DB: ep.DB})
	defer c.Close()
	iter := c.Scan(ctx, 0, ep.Prefix+"*", 500).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) == 0 {
		return nil
	}
	return c.Del(ctx, keys...).Err()
}

// consulNamespace returns the prefix lab-<random>- ; services and KV keys under it are removed at cleanup,
// or by a later sweep when this process dies before its cleanups (see consul_owners.go).
func consulNamespace(t testing.TB, inst *Instance) ConsulEndpoint {
	t.Helper()
	ep := ConsulEndpoint{Addr: inst.Addr, Prefix: "lab-" + randomID(6) + "-"}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if err := sweepConsulOnce(ctx, ep.Addr); err != nil {
		t.Logf("infra: sweep Consul namespaces of dead processes: %v", err)
	}
	if err := recordConsulOwner(ctx, ep.Addr, ep.Prefix); err != nil {
		t.Logf("infra: record the owner of Consul prefix %s: %v", ep.Prefix, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := consulDeletePrefix(ctx, ep); err != nil {
			t.Logf("infra: clean Consul prefix %s: %v", ep.Prefix, err)
		}
	})
	return ep
}

func consulDeletePrefix(ctx context.Context, ep ConsulEndpoint) error {
	c, err := newConsulClient(ep.Addr)
	if err != nil {
		return err
	}
	services, err := c.Agent().ServicesWithFilterOpts("", (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	for id, s := range services {
		if strings.HasPrefix(s.Service, ep.Prefix) || strings.HasPrefix(id, ep.Prefix) {
			if err := c.Agent().ServiceDeregisterOpts(id, (&consulapi.QueryOptions{}).WithContext(ctx)); err != nil {
				return err
			}
		}
	}
	if _, err = c.KV().DeleteTree(ep.Prefix, (&consulapi.WriteOptions{}).WithContext(ctx)); err != nil {
		return err
	}
	_, err = c.KV().Delete(consulOwnersKV+ep.Prefix, (&consulapi.WriteOptions{}).WithContext(ctx)) // last: a failed cleanup is swept again
	return err
}

// kafkaNamespace returns the topic prefix lab-<random>- ; topics under it are deleted at cleanup.
func kafkaNamespace(t testing.TB, inst *Instance) KafkaEndpoint {
	t.Helper()
	ep := KafkaEndpoint{Brokers: inst.Brokers, TopicPrefix: "lab-" + randomID(6) + "-"}
	if len(ep.Brokers) == 0 {
		ep.Brokers = []string{inst.Addr}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := kafkaDeletePrefix(ctx, ep); err != nil {
			t.Logf("infra: delete Kafka topics %s*: %v", ep.TopicPrefix, err)
		}
	})
	return ep
}

func kafkaDeletePrefix(ctx context.Context, ep KafkaEndpoint) error {
	c, err := kgo.NewClient(kgo.SeedBrokers(ep.Brokers...))
	if err != nil {
		return err
	}
	defer c.Close()
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, c)
	if err != nil {
		return err
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TimeoutMillis = 10000
	for _, tp := range meta.Topics {
		if tp.Topic != nil && strings.HasPrefix(*tp.Topic, ep.TopicPrefix) {
			dt := kmsg.NewDeleteTopicsRequestTopic()
			dt.Topic = kmsg.StringPtr(*tp.Topic)
			del.Topics = append(del.Topics, dt)
			del.TopicNames = append(del.TopicNames, *tp.Topic)
		}
	}
	if len(del.Topics) == 0 {
		return nil
	}
	_, err = del.RequestWith(ctx, c)
	return err
}
