package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/infra"
	"github.com/gomicrolab/microlab/labctl/internal/course"
)

// newInfraCmd is `labctl infra`: long-running servers for the checks, and the Consul build.
func newInfraCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "infra",
		Short: "Start, stop and inspect the servers the checks use (MySQL, Redis, Consul, Kafka, RabbitMQ, PostgreSQL, Jaeger, Prometheus, etcd)",
		Long: "Checks start the servers they need by themselves. `labctl infra up` keeps a set running instead,\n" +
			"so that every check and every plain `go test` reuses them once you export what it prints:\n\n" +
			"  eval \"$(go run ./labctl infra up)\"\n\n" +
			"Providers are chosen in the order env, docker, inprocess, native unless LAB_INFRA says otherwise\n" +
			"(for example LAB_INFRA=native or LAB_INFRA=mysql=native,redis=inprocess). See docs/infra.md.",
		// Without these, `labctl infra bogus` would print the help and exit 0.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newInfraUpCmd(), newInfraDownCmd(), newInfraStatusCmd(), newInfraInstallCmd(), newInfraServeCmd())
	return cmd
}

// parseServices turns arguments into services; none means all of them.
func parseServices(args []string) ([]infra.Service, error) {
	if len(args) == 0 {
		return infra.Services, nil
	}
	var out []infra.Service
	for _, a := range args {
		for _, s := range strings.Split(a, ",") {
			svc := infra.Service(strings.TrimSpace(s))
			if !slices.Contains(infra.Services, svc) {
				return nil, badInput(msgErr("err.unknown-service", s))
			}
			out = append(out, svc)
		}
	}
	return out, nil
}

// notServed lists the services of want that st does not run.
func notServed(st *infra.State, want []infra.Service) []string {
	var missing []string
	for _, w := range want {
		if !slices.ContainsFunc(st.Instances, func(in infra.StateInstance) bool { return in.Service == w }) {
			missing = append(missing, string(w))
		}
	}
	return missing
}

// infraStatePath finds the course root the way the other commands do: --root, $LABCTL_ROOT, or the
// directory above that holds the manifest.
func infraStatePath(cmd *cobra.Command) (string, error) {
	root := ""
	if f := cmd.Flag("root"); f != nil {
		root = f.Value.String()
	}
	if root == "" {
		root = os.Getenv("LABCTL_ROOT")
	}
	if root == "" {
		dir, err := os.Getwd()
		if err != nil {
			return "", err
		}
		for d := dir; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, course.ManifestName)); err == nil {
				root = d
				break
			}
			if filepath.Dir(d) == d {
				return "", badInput(msgErr("err.no-root", course.ManifestName, dir))
			}
		}
	}
	return infra.StatePath(root), nil
}

func printExports(w io.Writer, env []string) {
	for _, kv := range env {
		name, value, _ := strings.Cut(kv, "=")
		fmt.Fprintf(w, "export %s='%s'\n", name, strings.ReplaceAll(value, "'", `'\''`))
	}
}

func newInfraUpCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "up [mysql|redis|consul|kafka|rabbitmq|postgres|jaeger|prometheus|etcd ...]",
		Short: "Start servers that keep running, and print the exports that point tests at them",
		Long: "Starts the given services (all by default) in a background process, writes their PIDs and addresses\n" +
			"to .labctl/infra.json, and prints `export LAB_...=...` lines on stdout (progress goes to stderr).\n" +
			"Run it again to print the exports of the servers already up; asking then for a server they do not include\n" +
			"is an error that says how to start them together. `labctl infra down` stops them.",
		RunE: func(cmd *cobra.Command, args []string) error {
			services, err := parseServices(args)
			if err != nil {
				return err
			}
			statePath, err := infraStatePath(cmd)
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			serve := []string{exe, "infra", "serve", "--state", statePath}
			for _, s := range services {
				serve = append(serve, string(s))
			}
			if f := cmd.Flag("root"); f != nil && f.Value.String() != "" {
				serve = append(serve, "--root", f.Value.String())
			}
			// A running `infra serve` is answered as it is: asking it for a server it does not run must not
			// look like success.
			if st, err := infra.ReadState(statePath); err == nil {
				if missing := notServed(st, services); len(missing) > 0 {
					var running []string
					for _, in := range st.Instances {
						running = append(running, string(in.Service))
					}
					all := append(slices.Clone(running), missing...)
					return badInput(msgErr("err.infra-up-missing", strings.Join(running, " "), strings.Join(missing, " "), strings.Join(all, " ")))
				}
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "starting %v (log: %s)\n", services, filepath.Join(filepath.Dir(statePath), "infra.log"))
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			st, err := infra.Up(ctx, statePath, serve)
			if errors.Is(err, context.Canceled) {
				return err // Up has stopped what it started; Ctrl-C is the cause (exit 130)
			}
			if err != nil {
				return &exitError{code: ExitInfra, err: err}
			}
			for _, in := range st.Instances {
				fmt.Fprintf(cmd.ErrOrStderr(), "%-10s %-10s %-22s %s\n", in.Service, in.Provider, in.Addr, in.Version)
			}
			printExports(cmd.OutOrStdout(), st.Env)
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the servers")
	return cmd
}

func newInfraServeCmd() *cobra.Command {
	var statePath string
	cmd := &cobra.Command{
		Use:    "serve --state FILE [service ...]",
		Short:  "Run the servers of `labctl infra up` in the foreground (used by up)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			services, err := parseServices(args)
			if err != nil {
				return err
			}
			if statePath == "" {
				if statePath, err = infraStatePath(cmd); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logf := func(format string, a ...any) {
				fmt.Fprintf(cmd.ErrOrStderr(), time.Now().Format("15:04:05 ")+format+"\n", a...)
			}
			if err := infra.Serve(ctx, services, statePath, logf); err != nil {
				return &exitError{code: ExitInfra, err: err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&statePath, "state", "", "state file to write (default .labctl/infra.json of the course)")
	return cmd
}

func newInfraDownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop what `labctl infra up` started and remove the lab's Docker containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			statePath, err := infraStatePath(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			done, err := infra.Down(ctx, statePath)
			for _, d := range done {
				fmt.Fprintln(cmd.OutOrStdout(), d)
			}
			if len(done) == 0 && err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing was up")
			}
			return err
		},
	}
}

func newInfraStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Say whether `labctl infra up` is running and whether each server answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			statePath, err := infraStatePath(cmd)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			st, list, err := infra.Status(ctx, statePath)
			w := cmd.OutOrStdout()
			if errors.Is(err, infra.ErrNotUp) {
				fmt.Fprintln(w, "not up: checks start their own servers (run `labctl infra up` to keep a set running)")
				return quietExit(ExitInfra)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "up since %s (process %d, log %s)\n", st.Started.Format(time.DateTime), st.PID, st.Log)
			failed := false
			for _, s := range list {
				state := "ok"
				if s.Err != nil {
					state, failed = "NOT ANSWERING: "+s.Err.Error(), true
				}
				fmt.Fprintf(w, "%-10s %-10s %-22s %-28s %s\n", s.Service, s.Provider, s.Addr, s.Version, state)
			}
			printExports(w, st.Env)
			if failed {
				return quietExit(ExitInfra)
			}
			return nil
		},
	}
}

func newInfraInstallCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "install consul|jaeger",
		Short: "Build Consul " + infra.ConsulVersion + " or Jaeger " + infra.JaegerVersion + " (v2) from the Go module proxy into ~/.cache/microlab/bin",
		Long: "Consul and Jaeger are not packaged by Debian, and release downloads may be out of reach, so this builds them\n" +
			"from their source on the Go module proxy (Consul: a few minutes on two cores; Jaeger: about 5 minutes, up to half an hour on a busy machine).\n" +
			"The native provider finds them there.",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"consul", "jaeger"},
		RunE: func(cmd *cobra.Command, args []string) error {
			install := map[string]func(context.Context, bool, func(string, ...any)) (string, error){
				"consul": infra.InstallConsul,
				"jaeger": infra.InstallJaeger,
			}[args[0]]
			if install == nil {
				return badInput(fmt.Errorf("cannot install %q: only consul and jaeger are built by labctl (mariadb-server, redis-server, rabbitmq-server, postgresql, prometheus and etcd-server come from your package manager)", args[0]))
			}
			logf := func(format string, a ...any) { fmt.Fprintf(cmd.ErrOrStderr(), format+"\n", a...) }
			path, err := install(cmd.Context(), force, logf)
			if err != nil {
				return &exitError{code: ExitInfra, err: err}
			}
			fmt.Fprintln(cmd.OutOrStdout(), path)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "build again even if a binary is cached")
	return cmd
}
