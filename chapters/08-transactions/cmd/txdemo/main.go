// Command txdemo runs the chapter's transactions against a real MySQL server, one scenario at a time, so that
// you can watch them with the mysql client. It uses your saga, tcc and xa packages: run it once they pass.
//
//	eval "$(go run ./labctl infra up mysql)"      # in the repository root: a MySQL server and LAB_MYSQL_DSN
//	cd chapters
//	go run ./08-transactions/cmd/txdemo naive     # charge, shipping fails, no refund: money lost
//	go run ./08-transactions/cmd/txdemo saga      # the same with the saga; then a crash and a resume
//	go run ./08-transactions/cmd/txdemo tcc       # empty rollback, a late Try, duplicates: the barrier rows
//	go run ./08-transactions/cmd/txdemo xa-crash  # XA PREPARE on two databases, then the process dies
//	go run ./08-transactions/cmd/txdemo xa-recover
//	go run ./08-transactions/cmd/txdemo choreo    # the choreographed saga: four services, an in-process Kafka
//
// The DSN names the server (its database part is ignored). The demo works in the databases txdemo,
// txdemo_bank1, txdemo_bank2, txdemo_log and (choreo) txdemo_order, txdemo_inventory, txdemo_payment and
// txdemo_shipping, and creates them when they are missing.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/gomicrolab/microlab/chapters/08-transactions/saga"
	"github.com/gomicrolab/microlab/chapters/08-transactions/tcc"
	"github.com/gomicrolab/microlab/chapters/08-transactions/xa"
)

func main() {
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL DSN of the server (default $LAB_MYSQL_DSN)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: txdemo [-dsn DSN] naive|saga|tcc|xa-crash|xa-recover|choreo")
	}
	flag.Parse()
	if flag.NArg() != 1 || *dsn == "" {
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	scenarios := map[string]func(context.Context, server) error{
		"naive": naive, "saga": sagaDemo, "tcc": tccDemo, "xa-crash": xaCrash, "xa-recover": xaRecover,
		"choreo": choreoDemo,
	}
	run, ok := scenarios[flag.Arg(0)]
	if !ok {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(ctx, server{dsn: *dsn}); err != nil {
		log.Fatal(err)
	}
}

// server opens databases on the MySQL server of dsn.
type server struct{ dsn string }

// open returns a handle on database name, creating it when it is missing.
func (s server) open(ctx context.Context, name string) (*sql.DB, error) {
	cfg, err := mysql.ParseDSN(s.dsn)
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

// shop is the checkout's three services, in memory, printing every call.
type shop struct {
	mu       sync.Mutex
	balance  int
	stock    int
	charged  map[string]bool
	reserved map[string]bool
	shipOK   bool
	onCharge func() // called after a charge is applied
}

func newShop(shipOK bool) *shop {
	return &shop{balance: 1000, stock: 10, charged: map[string]bool{}, reserved: map[string]bool{}, shipOK: shipOK}
}

func (s *shop) say(format string, args ...any) {
	fmt.Printf("    %-8s %s\n", "service:", fmt.Sprintf(format, args...))
}

func (s *shop) Reserve(_ context.Context, o string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.reserved[o] {
		s.reserved[o], s.stock = true, s.stock-1
	}
	s.say("reserve %s (stock %d)", o, s.stock)
	return nil
}

func (s *shop) Release(_ context.Context, o string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reserved[o] {
		s.reserved[o], s.stock = false, s.stock+1
	}
	s.say("release %s (stock %d)", o, s.stock)
	return nil
}

func (s *shop) Charge(_ context.Context, o string) error {
	s.mu.Lock()
	if !s.charged[o] {
		s.charged[o], s.balance = true, s.balance-100
	}
	s.say("charge %s (balance %d)", o, s.balance)
	f := s.onCharge
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return nil
}

func (s *shop) Refund(_ context.Context, o string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.charged[o] {
		s.charged[o], s.balance = false, s.balance+100
	}
	s.say("refund %s (balance %d)", o, s.balance)
	return nil
}

func (s *shop) Ship(_ context.Context, o string) error {
	if !s.shipOK {
		s.say("ship %s: address not deliverable", o)
		return fmt.Errorf("address not deliverable: %w", saga.ErrBusiness)
	}
	s.say("ship %s", o)
	return nil
}

func naive(ctx context.Context, _ server) error {
	s := newShop(false)
	fmt.Println("NaiveCheckout: charge, then ship (which fails)")
	err := saga.NaiveCheckout(ctx, s, "o1")
	fmt.Printf("result: %v\nbalance 1000 -> %d, nothing shipped, no refund: %d lost\n", err, s.balance, 1000-s.balance)
	return nil
}

func sagaDemo(ctx context.Context, srv server) error {
	db, err := srv.open(ctx, "txdemo")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := saga.Migrate(ctx, db); err != nil {
		return err
	}
	id := fmt.Sprintf("order-%d", time.Now().Unix())

	fmt.Printf("1. saga %s-a: shipping fails, so the saga compensates in reverse order\n", id)
	s := newShop(false)
	o, err := saga.New(db, saga.Checkout(s))
	if err != nil {
		return err
	}
	st, err := o.Start(ctx, id+"-a")
	if err != nil {
		return err
	}
	fmt.Printf("   -> %s, balance %d, stock %d\n\n", st, s.balance, s.stock)

	fmt.Printf("2. saga %s-b: the orchestrator dies right after the charge\n", id)
	s = newShop(true)
	dying, die := context.WithCancel(ctx)
	s.onCharge = die // the process is gone: its context ends, it writes nothing more
	o1, err := saga.New(db, saga.Checkout(s))
	if err != nil {
		return err
	}
	_, err = o1.Start(dying, id+"-b")
	fmt.Printf("   first process: %v\n", err)
	state, step, err := saga.Load(ctx, db, id+"-b")
	if err != nil {
		return err
	}
	fmt.Printf("   the saga table says: %s, step %d\n", state, step)
	s.onCharge = nil
	o2, err := saga.New(db, saga.Checkout(s))
	if err != nil {
		return err
	}
	n, err := o2.ResumeAll(ctx)
	if err != nil {
		return err
	}
	state, _, _ = saga.Load(ctx, db, id+"-b")
	fmt.Printf("   a new process resumed %d saga(s): %s, balance %d, stock %d\n", n, state, s.balance, s.stock)
	fmt.Println("\nsee for yourself:  mysql ... -e 'SELECT * FROM txdemo.saga ORDER BY updated_at'")
	return nil
}

func tccDemo(ctx context.Context, srv server) error {
	db, err := srv.open(ctx, "txdemo")
	if err != nil {
		return err
	}
	defer db.Close()
	if err := tcc.Migrate(ctx, db); err != nil {
		return err
	}
	acct := time.Now().UnixNano() % 1_000_000_000
	if err := tcc.OpenAccount(ctx, db, acct, 1000); err != nil {
		return err
	}
	a := &tcc.Accounts{DB: db}
	gid := fmt.Sprintf("g%d", acct)
	show := func(what string, err error) {
		b, f, _ := tcc.Balance(ctx, db, acct)
		fmt.Printf("%-34s err=%v  balance=%d frozen=%d\n", what, err, b, f)
	}
	show("account "+fmt.Sprint(acct)+" opened", nil)
	show(gid+"-1: Cancel before any Try", a.Cancel(ctx, gid+"-1", "b1", acct, 100))
	show(gid+"-1: the late Try", a.Try(ctx, gid+"-1", "b1", acct, 100))
	show(gid+"-2: Try", a.Try(ctx, gid+"-2", "b1", acct, 100))
	show(gid+"-2: Try again (duplicate)", a.Try(ctx, gid+"-2", "b1", acct, 100))
	show(gid+"-2: Confirm", a.Confirm(ctx, gid+"-2", "b1", acct, 100))
	show(gid+"-2: Confirm again (duplicate)", a.Confirm(ctx, gid+"-2", "b1", acct, 100))
	fmt.Printf("\nsee the barrier rows:  mysql ... -e \"SELECT * FROM txdemo.barrier WHERE gid LIKE '%s-%%'\"\n", gid)
	return nil
}

// bank returns handles on the demo's coordinator log and two banks; with setup, it creates account 1 in each.
// Recovery must not touch the accounts: their rows may be locked by the prepared branches it is there to end.
func bank(ctx context.Context, srv server, setup bool) (logDB, bank1, bank2 *sql.DB, err error) {
	if logDB, err = srv.open(ctx, "txdemo_log"); err != nil {
		return
	}
	if err = xa.Migrate(ctx, logDB); err != nil {
		return
	}
	if bank1, err = srv.open(ctx, "txdemo_bank1"); err != nil {
		return
	}
	if bank2, err = srv.open(ctx, "txdemo_bank2"); err != nil {
		return
	}
	for i, db := range []*sql.DB{bank1, bank2} {
		if !setup {
			break
		}
		if _, err = db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS account (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL)`); err != nil {
			return
		}
		if _, err = db.ExecContext(ctx, `INSERT IGNORE INTO account VALUES (1, ?)`, 1000*(1-i)); err != nil {
			return
		}
	}
	return
}

func balances(ctx context.Context, bank1, bank2 *sql.DB) string {
	var b1, b2 int64
	_ = bank1.QueryRowContext(ctx, `SELECT balance FROM account WHERE id = 1`).Scan(&b1)
	_ = bank2.QueryRowContext(ctx, `SELECT balance FROM account WHERE id = 1`).Scan(&b2)
	return fmt.Sprintf("bank1 %d, bank2 %d", b1, b2)
}

var errDie = errors.New("the coordinator dies here")

func xaCrash(ctx context.Context, srv server) error {
	logDB, bank1, bank2, err := bank(ctx, srv, true)
	if err != nil {
		return err
	}
	gid := fmt.Sprintf("demo-%d", time.Now().Unix())
	fmt.Printf("before: %s\n", balances(ctx, bank1, bank2))
	c := &xa.Coordinator{Log: logDB, Hook: func(point string) error {
		if point != "prepared" {
			return nil
		}
		fmt.Printf("transfer %s: both branches prepared, no decision logged; the process exits now\n\n", gid)
		fmt.Println("In another shell, while no coordinator is around:")
		fmt.Println("  mysql ... -e 'XA RECOVER'                                   # the two prepared branches")
		fmt.Println("  mysql ... -e 'SET innodb_lock_wait_timeout = 3; SELECT * FROM txdemo_bank1.account FOR UPDATE'")
		fmt.Println("                                                               # waits 3 s: the row is still locked")
		fmt.Println("then finish them:  go run ./08-transactions/cmd/txdemo xa-recover")
		os.Exit(0) // a crash: no deferred function runs, the OS closes the connections
		return errDie
	}}
	branches := []xa.Branch{
		{DB: bank1, Work: func(ctx context.Context, conn *sql.Conn) error {
			_, err := conn.ExecContext(ctx, `UPDATE account SET balance = balance - 100 WHERE id = 1`)
			return err
		}},
		{DB: bank2, Work: func(ctx context.Context, conn *sql.Conn) error {
			_, err := conn.ExecContext(ctx, `UPDATE account SET balance = balance + 100 WHERE id = 1`)
			return err
		}},
	}
	return c.Run(ctx, gid, branches)
}

func xaRecover(ctx context.Context, srv server) error {
	logDB, bank1, bank2, err := bank(ctx, srv, false)
	if err != nil {
		return err
	}
	c := &xa.Coordinator{Log: logDB}
	n, err := c.Recover(ctx, bank1, bank2)
	if err != nil {
		return err
	}
	fmt.Printf("Recover finished %d prepared branch(es) as the log says (xa-crash logged no decision: rolled back)\n", n)
	fmt.Printf("after: %s\n", balances(ctx, bank1, bank2))
	return nil
}
