package shutdown_test

import "github.com/go-sql-driver/mysql"

func mysqlConfig(dsn string) (*mysql.Config, error) { return mysql.ParseDSN(dsn) }
