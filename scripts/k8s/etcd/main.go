// Command etcd is the etcd server, built from go.etcd.io/etcd/server/v3
// because the module that holds etcd's own main is not served by the Go
// module proxy. It takes every flag the released etcd takes.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
