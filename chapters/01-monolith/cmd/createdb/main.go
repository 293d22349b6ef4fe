// Command createdb creates a database on a MySQL server, for running the shop by hand:
//
//	go run ./01-monolith/cmd/createdb -dsn "$LAB_MYSQL_DSN" shop
//
// The DSN names the server (its database part is ignored); the argument names the database to create.
// It does nothing when the database exists already.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"regexp"
	"time"

	"github.com/go-sql-driver/mysql"
)

// validName keeps the name safe to put in the statement: identifiers cannot be query parameters.
var validName = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

func main() {
	dsn := flag.String("dsn", os.Getenv("LAB_MYSQL_DSN"), "MySQL DSN of the server (default $LAB_MYSQL_DSN)")
	flag.Parse()
	if flag.NArg() != 1 || !validName.MatchString(flag.Arg(0)) {
		log.Fatal("usage: createdb -dsn DSN NAME (NAME: letters, digits and _)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := createDatabase(ctx, *dsn, flag.Arg(0)); err != nil {
		log.Fatal(err)
	}
}

func createDatabase(ctx context.Context, dsn, name string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return fmt.Errorf("parse dsn: %w", err)
	}
	cfg.DBName = "" // connect to the server, not to a database that may not exist yet
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("dsn: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+name+"`"); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
