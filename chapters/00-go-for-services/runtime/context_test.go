package runtimedemo

import (
	"context"
	"errors"
	"testing"
	"time"
)

// docs/interview/context.md: cancelling a context cancels its whole subtree and nothing above it.
func TestContextCancelPropagatesDownNotUp(t *testing.T) {
	root, cancelRoot := context.WithCancel(context.Background())
	defer cancelRoot()
	child, cancelChild := context.WithCancel(root)
	defer cancelChild()
	grandchild, cancelGrandchild := context.WithTimeout(child, time.Hour)
	defer cancelGrandchild()
	sibling, cancelSibling := context.WithCancel(root)
	defer cancelSibling()

	cancelChild()
	<-grandchild.Done() // closed by the child's cancel, long before the hour
	if !errors.Is(grandchild.Err(), context.Canceled) {
		t.Fatalf("grandchild.Err() = %v after its parent was cancelled, want context.Canceled (not DeadlineExceeded: the hour has not passed)", grandchild.Err())
	}
	if root.Err() != nil || sibling.Err() != nil {
		t.Fatalf("root.Err() = %v, sibling.Err() = %v after cancelling child, want nil, nil: cancellation goes down the tree only", root.Err(), sibling.Err())
	}
}

var errUpstreamGone = errors.New("upstream connection closed")

// docs/interview/context.md: Err says only Canceled or DeadlineExceeded; Cause (Go 1.20) carries why,
// and children see the parent's cause.
func TestContextCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	child, cancelChild := context.WithCancel(ctx)
	defer cancelChild()
	cancel(errUpstreamGone)
	<-child.Done()
	if !errors.Is(child.Err(), context.Canceled) {
		t.Fatalf("child.Err() = %v, want context.Canceled", child.Err())
	}
	if got := context.Cause(child); !errors.Is(got, errUpstreamGone) {
		t.Fatalf("context.Cause(child) = %v, want %v from the parent's cancel", got, errUpstreamGone)
	}

	expired, cancelExpired := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelExpired()
	if got := context.Cause(expired); !errors.Is(got, context.DeadlineExceeded) {
		t.Fatalf("Cause of a context past its deadline = %v, want context.DeadlineExceeded (the cause defaults to Err)", got)
	}
}

type requestIDKey struct{}

// docs/interview/context.md: WithoutCancel (Go 1.21) keeps the values and drops the cancellation, for
// work that must outlive the request (an audit write after the response).
func TestContextWithoutCancel(t *testing.T) {
	req, cancel := context.WithCancel(context.WithValue(context.Background(), requestIDKey{}, "req-42"))
	detached := context.WithoutCancel(req)
	cancel()
	if detached.Err() != nil || detached.Done() != nil {
		t.Fatalf("WithoutCancel(cancelled ctx): Err() = %v, Done() = %v; want nil, nil", detached.Err(), detached.Done())
	}
	if got := detached.Value(requestIDKey{}); got != "req-42" {
		t.Fatalf("WithoutCancel(ctx).Value(requestID) = %v, want req-42: values survive", got)
	}
}

// docs/interview/context.md: AfterFunc (Go 1.21) runs f in its own goroutine once ctx is done; stop
// before that unregisters it.
func TestContextAfterFunc(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	context.AfterFunc(ctx, func() { close(ran) })

	stopped, cancelStopped := context.WithCancel(context.Background())
	stop := context.AfterFunc(stopped, func() { t.Error("an AfterFunc that was stopped ran") })
	if !stop() {
		t.Fatal("stop() = false before the context was cancelled, want true: f had not started")
	}
	cancelStopped()

	cancel()
	<-ran // hangs (test timeout) if AfterFunc never runs f
}
