//go:build unix

package infra

import (
	"context"
	"errors"
	"net"
	"strconv"
	"testing"
	"time"
)

func TestFreePortsAreDistinctAndFreeForTCPAndUDP(t *testing.T) {
	ports, err := freePorts(6)
	if err != nil {
		t.Fatalf("freePorts(6): %v", err)
	}
	if len(ports) != 6 {
		t.Fatalf("freePorts(6) gave %d ports, want 6", len(ports))
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("freePorts(6) = %v, want distinct ports", ports)
		}
		seen[p] = true
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("port %d is not free for TCP: %v", p, err)
			continue
		}
		l.Close()
		u, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Errorf("port %d is not free for UDP: %v", p, err)
			continue
		}
		u.Close()
	}
}

func TestServerThatLosesItsPortIsRetried(t *testing.T) {
	tests := []struct {
		name   string
		output string
		want   error
	}{
		{"port taken", "bind: address already in use", errPortTaken},
		{"port taken, capitalised", "Can't start server: Bind on TCP/IP port: Address already in use", errPortTaken},
		{"other failure", "unknown option --foo", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := startProc(t.TempDir(), "out.log", "/bin/sh", "-c", "echo \""+tt.output+"\"; exit 1")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err = p.waitReady(ctx, func(context.Context) error { return errors.New("not ready") })
			if err == nil {
				t.Fatal("waitReady = nil for a process that exited, want an error")
			}
			if got := errors.Is(err, errPortTaken); got != (tt.want != nil) {
				t.Errorf("errors.Is(waitReady error, errPortTaken) = %v, want %v (error: %v)", got, tt.want != nil, err)
			}
		})
	}
}

func TestRetryPortTakenTriesThreeTimes(t *testing.T) {
	tests := []struct {
		name      string
		failures  int // how many calls fail with errPortTaken before one succeeds
		wantCalls int
		wantErr   error
	}{
		{"first start works", 0, 1, nil},
		{"second start works", 1, 2, nil},
		{"third start works", 2, 3, nil},
		{"gives up after three", 5, 3, errPortTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			inst, err := retryPortTaken(func() (*Instance, error) {
				calls++
				if calls <= tt.failures {
					return nil, errPortTaken
				}
				return &Instance{}, nil
			})
			if calls != tt.wantCalls {
				t.Errorf("retryPortTaken made %d calls, want %d", calls, tt.wantCalls)
			}
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("retryPortTaken error = %v, want %v", err, tt.wantErr)
			}
			if (inst != nil) != (tt.wantErr == nil) {
				t.Errorf("retryPortTaken instance = %v, want one only on success", inst)
			}
		})
	}
}
