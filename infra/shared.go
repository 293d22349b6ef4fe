package infra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// One server per service is shared by every test of a test binary. It starts lazily, on the first call that
// needs it, and lives until the binary ends: the process dies with its parent (see childAttr), in-process servers
// die with the binary, and the next start sweeps the work directories left behind (see sweepStale).
// A TestMain that calls Main stops them and removes their directories right away.
type sharedServer struct {
	once sync.Once
	inst *Instance
	err  error
}

var (
	sharedMu      sync.Mutex
	sharedServers = map[Service]*sharedServer{}
)

// startTimeout bounds one start; the Docker provider may need most of it on a cold machine.
const startTimeout = 3 * time.Minute

// shared returns the shared server of svc, starting it on first use.
func shared(svc Service) (*Instance, error) {
	sharedMu.Lock()
	s, ok := sharedServers[svc]
	if !ok {
		s = &sharedServer{}
		sharedServers[svc] = s
	}
	sharedMu.Unlock()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		s.inst, s.err = startFirst(ctx, svc)
	})
	return s.inst, s.err
}

// need returns the shared server of svc or fails the test with UnavailablePrefix.
func need(t testing.TB, svc Service) *Instance {
	t.Helper()
	inst, err := shared(svc)
	if err != nil {
		t.Fatalf("%s %v", UnavailablePrefix, err)
	}
	return inst
}

// StopShared stops the shared servers this process started and removes their files.
func StopShared(ctx context.Context) error {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	var errs []error
	for svc, s := range sharedServers {
		if s.inst != nil && s.inst.Stop != nil {
			errs = append(errs, s.inst.Stop(ctx))
		}
		delete(sharedServers, svc)
	}
	return errors.Join(errs...)
}

// Main runs the tests and then stops the shared servers. Use it from TestMain when a package wants its servers
// gone as soon as its tests end rather than when the process exits:
//
//	func TestMain(m *testing.M) { os.Exit(infra.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := StopShared(ctx); err != nil && code == 0 {
		// The tests passed, but a server this binary started did not stop: an infrastructure fault, not
		// the learner's, so it is reported as one (labctl shows it as an infrastructure error).
		fmt.Fprintf(os.Stderr, "%s stopping the shared servers: %v\n", UnavailablePrefix, err)
		return 1
	}
	return code
}

// randomID returns n random bytes in lowercase hex: safe in database, key, topic and service names.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
