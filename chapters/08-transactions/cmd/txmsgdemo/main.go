// Command txmsgdemo runs the two-phase message of 08-txmsg against a real MySQL server and Kafka broker, with your
// txmsg package: a normal order, a lost Submit that the checker's back-check repairs, a business failure, and a
// back-check that arrives while the order's transaction is still open. It leaves the tables (database
// txmsgdemo_biz and txmsgdemo_srv) and the topic txmsgdemo-orders behind for you to look at.
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
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gomicrolab/microlab/chapters/08-transactions/txmsg"
)

const topic = "txmsgdemo-orders"

func main() {
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL DSN of the server (default $LAB_MYSQL_DSN)")
	brokers := flag.String("brokers", os.Getenv("LAB_KAFKA_BROKERS"), "Kafka brokers, comma-separated (default $LAB_KAFKA_BROKERS)")
	flag.Parse()
	if *dsn == "" || *brokers == "" {
		fmt.Fprintln(os.Stderr, "usage: txmsgdemo [-dsn DSN] [-brokers host:port,...]  (or eval \"$(go run ./labctl infra up mysql kafka)\" first)")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *dsn, strings.Split(*brokers, ",")); err != nil {
		log.Fatal(err)
	}
}

// dropSubmit is a connection to the message server that loses every Submit, as a process that dies right after
// its commit would.
type dropSubmit struct{ *txmsg.Server }

func (dropSubmit) Submit(context.Context, string) error { return errors.New("connection reset (demo)") }

func run(ctx context.Context, dsn string, brokers []string) error {
	biz, err := open(ctx, dsn, "txmsgdemo_biz")
	if err != nil {
		return err
	}
	defer biz.Close()
	srvDB, err := open(ctx, dsn, "txmsgdemo_srv")
	if err != nil {
		return err
	}
	defer srvDB.Close()
	if err := txmsg.Migrate(ctx, biz); err != nil {
		return err
	}
	if err := txmsg.MigrateServer(ctx, srvDB); err != nil {
		return err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	if err != nil {
		return err
	}
	defer cl.Close()

	backCheck := &txmsg.Service{DB: biz} // another instance of the business service answers back-checks
	srv := &txmsg.Server{DB: srvDB, Producer: cl, BackCheck: func(ctx context.Context, gid string) (txmsg.Outcome, error) {
		o, err := backCheck.QueryPrepared(ctx, gid)
		fmt.Printf("    back-check %s -> %v%s\n", gid, o, errOrEmpty(err))
		return o, err
	}}
	svc := &txmsg.Service{DB: biz, Msgs: srv}
	run := fmt.Sprint(time.Now().Unix())
	state := func(gid string) string {
		st, err := srv.State(ctx, gid)
		if err != nil {
			return err.Error()
		}
		return string(st)
	}
	check := func() {
		n, err := srv.CheckOnce(ctx, 0)
		fmt.Printf("    checker resolved %d message(s)%s\n", n, errOrEmpty(err))
	}

	id := run + "-1"
	fmt.Printf("1. order %s: Prepare, commit, Submit\n", id)
	err = svc.PlaceOrder(ctx, topic, txmsg.Order{ID: id, UserID: 1, Total: 100})
	fmt.Printf("    PlaceOrder = %v, message %s\n", err, state("order-"+id))

	id = run + "-2"
	fmt.Printf("2. order %s: committed, but the Submit is lost\n", id)
	lost := &txmsg.Service{DB: biz, Msgs: dropSubmit{srv}}
	err = lost.PlaceOrder(ctx, topic, txmsg.Order{ID: id, UserID: 2, Total: 200})
	fmt.Printf("    PlaceOrder = %v, message %s\n", err, state("order-"+id))
	check()
	fmt.Printf("    message %s\n", state("order-"+id))

	id = run + "-3"
	fmt.Printf("3. order %s: the business refuses it (total -5)\n", id)
	err = svc.PlaceOrder(ctx, topic, txmsg.Order{ID: id, UserID: 3, Total: -5})
	fmt.Printf("    PlaceOrder = %v, message %s\n", err, state("order-"+id))
	check()

	gid := "demo-" + run + "-4"
	fmt.Printf("4. %s: the checker runs while the business transaction is still open\n", gid)
	inTx, release, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- svc.DoAndSubmit(ctx, txmsg.Msg{Gid: gid, Topic: topic, Key: gid, Payload: []byte(`{"demo":4}`)},
			func(tx *sql.Tx) error {
				close(inTx)
				<-release
				return nil
			})
	}()
	select {
	case <-inTx:
	case err := <-done:
		return fmt.Errorf("DoAndSubmit returned %v before its business step", err)
	}
	checked := make(chan struct{})
	go func() { check(); close(checked) }()
	select {
	case <-checked:
		fmt.Println("    the checker answered at once, while the transaction was open")
	case <-time.After(time.Second):
		fmt.Println("    after 1 s the back-check is still waiting for the open transaction's row lock; committing now")
	}
	close(release)
	err = <-done
	<-checked
	fmt.Printf("    DoAndSubmit = %v, message %s\n", err, state(gid))

	fmt.Printf("\nrecords on %s (this run):\n", topic)
	return printRecords(ctx, brokers, run)
}

func printRecords(ctx context.Context, brokers []string, run string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if strings.Contains(string(r.Key), run) {
				fmt.Printf("    partition %d offset %d key %s %s\n", r.Partition, r.Offset, r.Key, r.Value)
			}
		})
	}
	return nil
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// open returns a handle on database name, creating it when it is missing.
func open(ctx context.Context, dsn, name string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DSN: %w", err)
	}
	cfg.DBName = ""
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+name+"`"); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	return sql.Open("mysql", cfg.FormatDSN())
}
