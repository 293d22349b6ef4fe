package infra

import (
	"context"
	"strings"
	"time"

	"github.com/moby/moby/api/types/network"
	"github.com/testcontainers/testcontainers-go"
	tcmysql "github.com/testcontainers/testcontainers-go/modules/mysql"
	"github.com/testcontainers/testcontainers-go/wait"
)

// mysqlRootPassword is the root password of MySQL containers; they listen on loopback only.
const mysqlRootPassword = "microlab"

// startMySQL runs MySQL with the root password above, on a loopback port.
func startMySQL(ctx context.Context, choice imageChoice, opts []testcontainers.ContainerCustomizer) (testcontainers.Container, *Instance, error) {
	opts = append(opts,
		tcmysql.WithUsername("root"), tcmysql.WithPassword(mysqlRootPassword),
		bindLoopback(nil),
		// One server serves every test of a run, and parallel checks each hold pools of their own: the default
		// 151 connections ran out ("Error 1040: Too many connections") with three chapters verified at once.
		// "mysqld" first: both the official entrypoint and the stand-in's pass the flags that follow to the server.
		testcontainers.WithCmd("mysqld", "--max-connections=500"),
	)
	if choice.standIn {
		// MariaDB does not print MySQL's "port: 3306  MySQL Community Server" line. Its own line comes once the
		// data directory is initialised; then wait until SQL answers on the published port.
		opts = append(opts, testcontainers.WithWaitStrategy(
			wait.ForLog("mariadbd: ready for connections").WithStartupTimeout(2*time.Minute),
			wait.ForSQL("3306/tcp", "mysql", func(_ string, port network.Port) string {
				return mysqlAdminDSN("127.0.0.1:" + port.Port())
			}).WithStartupTimeout(2*time.Minute).WithPollInterval(200*time.Millisecond)))
	}
	c, err := tcmysql.Run(ctx, choice.ref, opts...)
	ctr := orNil(c)
	if err != nil {
		return ctr, nil, err
	}
	inst, err := serving(ctx, ctr, "3306/tcp", func(ctx context.Context, addr string) (string, error) {
		return mysqlVersion(ctx, mysqlAdminDSN(addr))
	})
	if err != nil {
		return ctr, nil, err
	}
	inst.AdminDSN = mysqlAdminDSN(inst.Addr)
	if !strings.Contains(inst.Version, "MariaDB") {
		inst.Version = "MySQL " + inst.Version
	}
	return ctr, inst, nil
}

func mysqlAdminDSN(addr string) string { return mysqlRootDSN(addr, mysqlRootPassword) }
