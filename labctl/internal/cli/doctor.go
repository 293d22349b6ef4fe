package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/infra"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// probeTimeout bounds each availability probe, so that doctor answers quickly on any machine.
const probeTimeout = 5 * time.Second

func (a *app) newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check the Go toolchain, the course, git, Docker and each infrastructure provider",
		Args:  cobra.NoArgs,
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			code := ExitOK
			if v, err := goVersion(ctx); err != nil {
				a.report(false, "go", err.Error())
				code = ExitInfra
			} else {
				a.report(true, "go", v)
			}
			if l, err := a.open(); err != nil {
				a.report(false, "course", oneLine(err))
				code = max(code, ExitBadInput)
			} else {
				a.report(true, "course", fmt.Sprintf("%s: %d chapters, %d exercises", l.Root(), len(l.Course().Chapters), len(l.Course().Exercises())))
				a.doctorTests(l)
			}
			if _, err := exec.LookPath("git"); err != nil {
				a.report(false, "git", "not found: `labctl reset` needs git")
			} else {
				a.report(true, "git", "found")
			}
			if err := dockerPing(ctx); err != nil {
				a.report(false, "docker", err.Error()+" (the other providers still serve)")
			} else {
				a.report(true, "docker", "reachable")
			}
			a.doctorProviders(ctx)
			return quietExit(code)
		}),
	}
}

func (a *app) report(ok bool, what, detail string) {
	mark := "ok"
	if !ok {
		mark = "--"
	}
	fmt.Fprintf(a.stdout, "%-3s %-22s %s\n", mark, what, detail)
}

func (a *app) doctorTests(l *lab.Lab) {
	changes, err := l.EditedTests()
	switch {
	case errors.Is(err, lab.ErrNoSums):
		a.report(false, "tests.sum", "missing: restore it with `git checkout chapters/tests.sum` (it is the course's, not yours to regenerate)")
	case err != nil:
		a.report(false, "tests.sum", err.Error())
	case len(changes) > 0:
		a.report(false, "tests.sum", fmt.Sprintf("%d test file(s) differ, first %s (%s): `labctl reset <exercise>` restores them after a backup",
			len(changes), changes[0].Path, changes[0].Change))
	default:
		a.report(true, "tests.sum", "test files unchanged")
	}
}

// doctorProviders reports, per service, which providers could serve it here, then starts the one a test
// would get and reports its provider, version and start time (infra.Doctor).
func (a *app) doctorProviders(ctx context.Context) {
	for _, r := range infra.Doctor(ctx, infra.Services) {
		var serving, missing, never []string
		for _, pc := range r.Providers {
			switch {
			case pc.Err == nil:
				serving = append(serving, pc.Provider)
			case pc.Unsupported:
				never = append(never, pc.Provider+": "+oneLine(pc.Err))
			default:
				missing = append(missing, pc.Provider+": "+oneLine(pc.Err))
			}
		}
		if r.Err != nil {
			a.report(false, string(r.Service), "no provider can serve it: checks that need it report infra-error: "+oneLine(r.Err))
		} else {
			a.report(true, string(r.Service), fmt.Sprintf("%s, %s, started in %s (available: %s)",
				r.Provider, r.Version, r.Started.Round(time.Millisecond), strings.Join(serving, ", ")))
		}
		for _, m := range missing {
			a.report(false, "  "+string(r.Service)+" via", m)
		}
		// By design, not a fault: say why (no in-process MySQL or RabbitMQ, no native Kafka), not what to install.
		for _, n := range never {
			fmt.Fprintf(a.stdout, "%-3s %-22s %s\n", "", "  "+string(r.Service)+" never via", n)
		}
	}
}

func goVersion(ctx context.Context) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("not found in PATH: install Go 1.26 or later (https://go.dev/dl/)")
	}
	out, err := exec.CommandContext(ctx, goBin, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w", goBin, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// dockerPing calls the Docker API's /_ping on DOCKER_HOST (unix sockets only) or the default socket.
func dockerPing(ctx context.Context) error {
	sock := "/var/run/docker.sock"
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		rest, ok := strings.CutPrefix(h, "unix://")
		if !ok {
			return fmt.Errorf("DOCKER_HOST=%s: doctor only probes unix sockets", h)
		}
		sock = rest
	}
	client := &http.Client{Timeout: probeTimeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("not reachable at %s", sock)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", sock, resp.Status)
	}
	return nil
}
