// Package runtimedemo holds small, runnable demonstrations of the Go runtime behaviours that
// interviews ask about (docs/interview). They are not exercises: nothing here is for the learner to
// fill in, and every test passes on a correct Go toolchain. Each test names the page that explains it.
//
// Run them all (Go 1.26, the version in chapters/go.mod):
//
//	cd chapters && go test -race -v ./00-go-for-services/runtime/
//
// Some behaviours end the process (a fatal error, an unrecovered panic in another goroutine, a
// stuck scheduler). Those tests start the test binary again as a child process (see child_test.go)
// and look at how the child exited and what it printed.
package runtimedemo
