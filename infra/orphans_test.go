package infra

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

// A native server whose owner died without stopping it (no parent-death signal outside Linux; here the owner
// is simulated) is stopped by the next sweep, through the pid file in its work directory, and its directory goes.
func TestSweepStaleStopsOrphanedServer(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, fmt.Sprintf("consul-%d-orphan", deadPID(t)))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p, err := startProc(dir, "server.log", "sleep", "60")
	require.NoError(t, err)
	t.Cleanup(func() { _ = killGroup(p.cmd.Process.Pid) })
	data, err := os.ReadFile(filepath.Join(dir, pidFile))
	require.NoError(t, err, "startProc must record the server's pid")
	require.Equal(t, strconv.Itoa(p.cmd.Process.Pid)+"\n", string(data))

	sweepStale(root)

	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("sweepStale(%s) left the server %d of a dead owner running", root, p.cmd.Process.Pid)
	}
	_, err = os.Stat(dir)
	require.True(t, os.IsNotExist(err), "sweepStale left the work directory of a dead owner: %v", err)
}

// A live owner's server is left alone, and so is a pid file whose pid now belongs to a process elsewhere.
func TestSweepStaleSparesLiveOwnersAndStrangers(t *testing.T) {
	root := t.TempDir()
	live := filepath.Join(root, fmt.Sprintf("consul-%d-mine", os.Getpid()))
	require.NoError(t, os.MkdirAll(live, 0o755))
	p, err := startProc(live, "server.log", "sleep", "60")
	require.NoError(t, err)
	t.Cleanup(func() { _ = killGroup(p.cmd.Process.Pid) })

	stranger := exec.Command("sleep", "60") // runs in the test's directory, not in the orphan's
	stranger.SysProcAttr = childAttr()
	require.NoError(t, stranger.Start())
	t.Cleanup(func() { _ = killGroup(stranger.Process.Pid); _ = stranger.Wait() })
	orphan := filepath.Join(root, fmt.Sprintf("consul-%d-reused", deadPID(t)))
	require.NoError(t, os.MkdirAll(orphan, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(orphan, pidFile), []byte(strconv.Itoa(stranger.Process.Pid)), 0o644))

	sweepStale(root)

	require.False(t, p.exited(), "sweepStale stopped the server of a live owner")
	require.True(t, pidAlive(stranger.Process.Pid), "sweepStale killed a process that does not run in the orphan's directory")
	_, err = os.Stat(live)
	require.NoError(t, err, "sweepStale removed the directory of a live owner")
}

// A container of its own left by a check that was killed is removed by SweepOrphans, which labctl runs
// before each check that needs infrastructure, whatever services that check starts.
func TestSweepOrphansRemovesOwnContainer(t *testing.T) {
	if session := os.Getenv("MICROLAB_SWEEP_CHILD"); session != "" {
		p := &dockerProvider{reuse: false, session: session}
		_, err := p.Start(t.Context(), RedisService)
		require.NoError(t, err)
		os.Exit(0) // die without Stop, as a killed test binary would
	}
	dockerOrSkip(t, RedisService)
	orphan := randomID(6)
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSweepOrphansRemovesOwnContainer$")
	cmd.Env = append(os.Environ(), "MICROLAB_SWEEP_CHILD="+orphan)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child that leaves a container:\n%s", out)

	cli, err := dockerClient(t.Context())
	require.NoError(t, err)
	defer cli.Close()
	left, err := listContainers(t.Context(), cli, labelSession+"="+orphan)
	require.NoError(t, err)
	require.Len(t, left, 1, "the child should have left its container behind")

	SweepOrphans(t.Context())
	left, err = listContainers(t.Context(), cli, labelSession+"="+orphan)
	require.NoError(t, err)
	require.Empty(t, left, "the orphan is still there after SweepOrphans: %v", names(left))
}
