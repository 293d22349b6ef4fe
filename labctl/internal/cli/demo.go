package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/demo"
	"github.com/gomicrolab/microlab/labctl/internal/loadgen"
)

// newDemoCmd is `labctl demo`: the capstone running on this machine, with scripted scenarios.
func (a *app) newDemoCmd() *cobra.Command {
	var mine, load bool
	var scenario, prefix, stateDir string
	var payWithin time.Duration
	bounds := loadgen.Bounds{Requests: 2000, Duration: 20 * time.Second, Clients: 8}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the chapter 11 capstone on this machine (five processes on the lab's infrastructure) and play scenarios against it",
		Long: "demo starts MySQL and Consul the way checks do (Docker or native), Jaeger and Prometheus when a provider can\n" +
			"give them, and a Kafka of its own; builds chapters/11-capstone/cmd/capstone once (the reference solution,\n" +
			"or your code with --mine) and runs it as five processes: user, payment, two order instances and the gateway.\n" +
			"It waits until Consul shows every service passing and the gateway answers, prints where to look, and offers\n" +
			"the scenarios below. Ctrl-C stops every process it started and the infrastructure it started.\n\n" +
			scenarioHelp() + "\n\n" + exitCodesHelp,
		Args: cobra.NoArgs,
	}
	cmd.Flags().BoolVar(&mine, "mine", false, "run your own code in chapters/ instead of the reference solution")
	cmd.Flags().StringVar(&scenario, "scenario", "", "run this scenario (name or number) once, then stop everything")
	cmd.Flags().BoolVar(&load, "load", false, "run the bounded load test (docs/benchmarks.md) once healthy, print its figures, then stop everything")
	cmd.Flags().IntVar(&bounds.Requests, "requests", bounds.Requests, "with --load: at most this many requests per path")
	cmd.Flags().DurationVar(&bounds.Duration, "duration", bounds.Duration, "with --load: and at most this long per path")
	cmd.Flags().IntVar(&bounds.Clients, "clients", bounds.Clients, "with --load: concurrent clients, each waiting for its answer")
	cmd.Flags().StringVar(&prefix, "prefix", demo.DefaultPrefix, "prefix of the Consul service names, topic and databases")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "directory for the binary, the logs and demo.json (default a new temporary directory)")
	_ = cmd.Flags().MarkHidden("prefix") // the tests' own namespace
	cmd.Flags().DurationVar(&payWithin, "pay-within", demo.DefaultPayWithin, "cancel an order left unpaid this long (short, to watch the unpaid-order scenario; with --load, 15m unless given)")
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		began := time.Now()
		ctx := cmd.Context()
		var run demo.Scenario
		if load && scenario != "" {
			return badInput(errors.New("--load and --scenario: choose one"))
		}
		if payWithin <= 0 {
			return badInput(errors.New("--pay-within must be positive"))
		}
		if load && (bounds.Requests <= 0 || bounds.Duration <= 0 || bounds.Clients <= 0) {
			return badInput(fmt.Errorf("--requests, --duration and --clients must be positive, got %d, %v, %d", bounds.Requests, bounds.Duration, bounds.Clients))
		}
		if scenario != "" {
			sc, err := demo.Find(scenario)
			if err != nil {
				return badInput(err)
			}
			run = sc
		}
		l, err := a.open()
		if err != nil {
			return err
		}
		cfg := demo.Config{Root: l.Root(), Prefix: prefix, StateDir: stateDir, Began: began, PayWithin: payWithin, Progress: func(f string, args ...any) {
			fmt.Fprintf(a.stderr, "demo: "+f+"\n", args...)
		}}
		if load && !cmd.Flags().Changed("pay-within") {
			// The load test pays its orders up to 2×--duration after placing them: the demo's short time to
			// pay would cancel some first. cmd/capstone's own default applies.
			cfg.PayWithin = 15 * time.Minute
		}
		if !mine {
			ch := l.Course().Chapter("11")
			if ch == nil {
				return badInput(errors.New("the course has no chapter 11"))
			}
			overlay, cleanup, err := l.SolutionOverlay([]*course.Chapter{ch})
			if err != nil {
				return err
			}
			defer cleanup()
			cfg.Overlay = overlay
		}
		sys, startErr := demo.Start(ctx, cfg)
		// Stop runs whatever happened: Ctrl-C cancels ctx, so it gets a context of its own.
		defer func() {
			if sys == nil {
				return
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := sys.Stop(sctx); err != nil {
				fmt.Fprintf(a.stderr, "demo: stop: %v\n", err)
			}
			fmt.Fprintf(a.stderr, "demo: stopped; logs kept in %s\n", sys.StateDir)
		}()
		if startErr != nil {
			return startErr
		}
		a.printDemo(sys)
		if load {
			rep, err := sys.Load(ctx, bounds)
			if err != nil {
				return &exitError{code: ExitFailed, err: err}
			}
			a.printLoad(rep)
			return nil
		}
		if run.Run != nil {
			return a.playScenario(ctx, sys, run)
		}
		return a.demoMenu(ctx, sys)
	})
	return cmd
}

// printLoad prints the load test's figures as the Markdown tables of docs/benchmarks.md.
func (a *app) printLoad(r *demo.LoadReport) {
	w := a.stdout
	fmt.Fprintf(w, "\nLoad: each path at most %d requests or %v, %d concurrent clients (closed loop), one after the other.\n\n",
		r.Bounds.Requests, r.Bounds.Duration, r.Bounds.Clients)
	fmt.Fprint(w, loadgen.Table(r.Results, demo.PathBare))
	fmt.Fprintln(w)
	fmt.Fprint(w, loadgen.MemoryTable(r.Parts, r.Memory))
}

func scenarioHelp() string {
	var b strings.Builder
	b.WriteString("Scenarios:")
	for i, sc := range demo.Scenarios {
		fmt.Fprintf(&b, "\n  %d  %-13s %s", i+1, sc.Name, sc.Title)
	}
	return b.String()
}

func (a *app) printDemo(s *demo.System) {
	w := a.stdout
	fmt.Fprintf(w, "\nThe capstone is running: all healthy %v after the command started.\n", s.Healthy.Round(100*time.Millisecond))
	for _, p := range s.Parts {
		fmt.Fprintf(w, "  %-8s pid %-7d %s\n", p.Name, p.PID, strings.Join(p.Args, " "))
	}
	fmt.Fprintf(w, "  gateway     %s   curl -s -XPOST %s/users -d '{\"name\":\"ada\",\"email\":\"ada@example.com\"}'\n", s.GatewayURL, s.GatewayURL)
	fmt.Fprintf(w, "  Consul UI   http://%s/ui   (services %suser, %sorder x2, %spayment)\n", s.ConsulAddr, s.Prefix, s.Prefix, s.Prefix)
	if s.JaegerUI != "" {
		fmt.Fprintf(w, "  Jaeger UI   %s   (services gateway, user, order, payment)\n", s.JaegerUI)
	} else {
		fmt.Fprintln(w, "  Jaeger      not running: no provider could start it (`go run ./labctl infra install jaeger`); traces are off")
	}
	switch {
	case s.Scraped:
		fmt.Fprintf(w, "  Prometheus  %s   (scrapes %s/metrics every second, job=\"capstone-gateway\")\n", s.PrometheusURL, s.GatewayURL)
	case s.PrometheusURL != "":
		fmt.Fprintf(w, "  Prometheus  %s   (it has no scrape-target directory: read %s/metrics yourself)\n", s.PrometheusURL, s.GatewayURL)
	default:
		fmt.Fprintf(w, "  Prometheus  not running; the gateway's metrics are at %s/metrics\n", s.GatewayURL)
	}
	if s.RedisAddr != "" {
		fmt.Fprintf(w, "  Redis       %s   the user service's cache: redis-cli -h %s -p %s --scan --pattern '%suser:*'\n",
			s.RedisAddr, hostOf(s.RedisAddr), portOf(s.RedisAddr), s.Prefix)
	} else {
		fmt.Fprintln(w, "  Redis       not running: no provider could start it; the user service reads MySQL only")
	}
	fmt.Fprintf(w, "  Kafka       %s   topic %s\n", strings.Join(s.Brokers, ","), s.Topic)
	fmt.Fprintf(w, "  orders      left unpaid for %v are cancelled and their stock released (-pay-within)\n", s.PayWithin)
	fmt.Fprintf(w, "  logs        %s  (one file per process)\n", s.StateDir)
	for _, u := range s.Infra {
		who := "not the demo's: left running"
		if u.Owned {
			who = "started by the demo, stopped with it"
		}
		fmt.Fprintf(w, "  infra       %-10s %-28s %s  (%s)\n", u.Service, u.Provider, u.Addr, who)
	}
}

func (a *app) playScenario(ctx context.Context, s *demo.System, sc demo.Scenario) error {
	fmt.Fprintf(a.stdout, "\n== %s\n", sc.Title)
	t := time.Now()
	err := sc.Run(ctx, s, a.stdout)
	if err != nil {
		fmt.Fprintf(a.stdout, "== %s FAILED after %v: %v\n", sc.Name, time.Since(t).Round(time.Millisecond), err)
		return &exitError{code: ExitFailed, err: err}
	}
	fmt.Fprintf(a.stdout, "== %s done in %v\n", sc.Name, time.Since(t).Round(time.Millisecond))
	return nil
}

// demoMenu reads scenario numbers or names from stdin until EOF, q, or Ctrl-C.
func (a *app) demoMenu(ctx context.Context, s *demo.System) error {
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(a.stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for {
		fmt.Fprintf(a.stdout, "\n%s\nChoose a scenario (number or name), q to stop, Ctrl-C stops everything: ", scenarioHelp())
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			fmt.Fprintln(a.stdout)
			return ctx.Err()
		case line, ok = <-lines:
		}
		if !ok {
			// stdin closed (not a terminal): keep running until Ctrl-C, as a server does.
			fmt.Fprintln(a.stdout, "\n(stdin closed: the system keeps running until Ctrl-C)")
			<-ctx.Done()
			return ctx.Err()
		}
		line = strings.TrimSpace(line)
		switch line {
		case "":
			continue
		case "q", "quit", "exit":
			return nil
		}
		sc, err := demo.Find(line)
		if err != nil {
			fmt.Fprintln(a.stdout, err)
			continue
		}
		if err := a.playScenario(ctx, s, sc); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func hostOf(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
