// Command etcd is etcd's own server command (go.etcd.io/etcd/server/v3/etcdmain), built from the version in
// go.mod. infra/images/build.sh packs it, built with CGO_ENABLED=0, into the image microlab/etcd, the local
// stand-in for gcr.io/etcd-development/etcd on machines that cannot pull images. It takes etcd's flags.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
