package runtimedemo

import (
	"errors"
	"net"
	"os"
	"runtime/pprof"
	"sync"
	"testing"
	"time"
)

// docs/interview/netpoller.md: a goroutine blocked in conn.Read does not hold an OS thread. The
// socket is non-blocking; Read gets EAGAIN, parks the goroutine on the fd in the netpoller (epoll
// on Linux), and the thread runs other goroutines. 500 parked readers need no new threads.
func TestBlockedReadsParkGoroutinesNotThreads(t *testing.T) {
	const conns = 500
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	var servers []net.Conn
	var clients []net.Conn
	defer func() {
		for _, c := range append(servers, clients...) {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		servers = append(servers, s)
	}

	threadsBefore := pprof.Lookup("threadcreate").Count()
	var started, done sync.WaitGroup
	for _, s := range servers {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			s.Read(make([]byte, 1)) // no data yet: parks until the client side closes
		}()
	}
	started.Wait()
	// A reader that has started finds no data and parks at once. The pause only gives the last
	// ones time to get there; the count below cannot grow with them either way.
	time.Sleep(50 * time.Millisecond)
	created := pprof.Lookup("threadcreate").Count() - threadsBefore
	t.Logf("%d goroutines blocked in Read; %d OS threads created meanwhile", conns, created)
	if created > 50 {
		t.Errorf("%d goroutines blocked in conn.Read created %d OS threads, want few: a blocked Read parks the goroutine, not the thread", conns, created)
	}

	for _, c := range clients {
		c.Close() // each reader's Read returns io.EOF
	}
	done.Wait()
}

// docs/interview/netpoller.md: deadlines are timers in the same machinery; when one fires, the
// netpoller wakes the parked reader with os.ErrDeadlineExceeded.
func TestReadDeadlineWakesTheReader(t *testing.T) {
	server, client := tcpPair(t)
	defer server.Close()
	defer client.Close()

	server.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := server.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline = %v, want os.ErrDeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read past its deadline = %v, want a net.Error with Timeout() == true", err)
	}
}

func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		t.Fatal(err)
	}
	return server, client
}
