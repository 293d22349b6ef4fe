// Package deps keeps in go.mod the libraries that a solution needs but a starter does not import yet,
// so that `go mod tidy` leaves them there and a learner never has to `go get` anything.
package deps

import (
	_ "github.com/sony/gobreaker/v2" // 11-degrade
	_ "golang.org/x/sync/errgroup"   // 00-fanout
)
