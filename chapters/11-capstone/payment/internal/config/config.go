// Package config is the payment service's configuration, as goctl lays it out: go-zero's RpcServerConf
// (listen address, logging, middlewares, shedding, timeouts) plus what this service needs itself.
package config

import "github.com/zeromicro/go-zero/zrpc"

// Config is what etc/payment.yaml holds.
type Config struct {
	zrpc.RpcServerConf
	DataSource string `json:",optional"` // MySQL DSN; payment.Run sets it from payment.Config.DSN
}
