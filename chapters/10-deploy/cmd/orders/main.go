// Command orders runs one instance of chapter 10's orders service (package shutdown) so that you can stop it
// the way Kubernetes does and watch every step. From chapters/, with servers from `labctl infra up`:
//
//	go run ./10-deploy/cmd/orders -id orders-1 -work 5s &          # HTTP on 127.0.0.1:8100, registered in Consul
//	curl -s localhost:8100/readyz                                   # ready
//	curl -s -XPOST 'localhost:8100/orders?id=o-1' &                 # takes 5 s (the -work delay)
//	kill -TERM %1                                                   # SIGTERM while the order is in flight
//	curl -s localhost:8100/readyz                                   # 503 not ready, for -drain
//	consul catalog services -http-addr=$LAB_CONSUL_ADDR             # orders is gone
//	                                                                # the curl above still prints "stored o-1"
//
// The process logs the slow work of each order, so you see it finish after SIGTERM. (The commands assume you ran
// `eval "$(go run ./labctl infra up mysql consul kafka)"` at the repository root, then `cd chapters`.)
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/hashicorp/consul/api"

	"github.com/gomicrolab/microlab/chapters/10-deploy/shutdown"
)

const database = "microlab_deploy"

func main() {
	addr := flag.String("addr", "127.0.0.1:8100", "HTTP listen address")
	id := flag.String("id", "orders-1", "instance id in Consul")
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL admin DSN (default $LAB_MYSQL_DSN); the database "+database+" is created in it")
	consulAddr := flag.String("consul", envOr("LAB_CONSUL_ADDR", "127.0.0.1:8500"), "Consul HTTP address (default $LAB_CONSUL_ADDR)")
	brokers := flag.String("brokers", envOr("LAB_KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka brokers, comma-separated (default $LAB_KAFKA_BROKERS)")
	drain := flag.Duration("drain", 2*time.Second, "how long to keep serving after not ready and deregistering")
	budget := flag.Duration("budget", 20*time.Second, "the whole shutdown's budget (Kubernetes: terminationGracePeriodSeconds)")
	work := flag.Duration("work", 0, "time each order or event takes before its database write, so that you can stop the process in the middle")
	flag.Parse()

	db, err := createDatabase(*dsn)
	if err != nil {
		log.Fatal(err)
	}
	cc := api.DefaultConfig()
	cc.Address = *consulAddr
	consul, err := api.NewClient(cc)
	if err != nil {
		log.Fatal(err)
	}
	os.Exit(shutdown.Main(shutdown.Config{
		Addr: *addr, Consul: consul, Service: "orders", ID: *id, DSN: db,
		Brokers: strings.Split(*brokers, ","), Topic: "orders", Group: "orders-service",
		DrainDelay: *drain, Budget: *budget,
		Work: func(ctx context.Context, what string) error {
			log.Printf("%s: working for %v", what, *work)
			select {
			case <-time.After(*work):
				log.Printf("%s: done, writing to MySQL", what)
				return nil
			case <-ctx.Done():
				log.Printf("%s: cut off: %v", what, ctx.Err())
				return ctx.Err()
			}
		},
	}))
}

// createDatabase creates the demo's database with the admin DSN and returns a DSN for it.
func createDatabase(admin string) (string, error) {
	if admin == "" {
		return "", errors.New("no MySQL: set LAB_MYSQL_DSN (eval \"$(go run ./labctl infra up mysql consul kafka)\" at the repository root) or pass -dsn")
	}
	cfg, err := mysql.ParseDSN(admin)
	if err != nil {
		return "", fmt.Errorf("-dsn: %w", err)
	}
	root, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return "", err
	}
	defer root.Close()
	if _, err := root.Exec("CREATE DATABASE IF NOT EXISTS " + database); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	cfg.DBName = database
	return cfg.FormatDSN(), nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
