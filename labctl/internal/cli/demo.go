package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/demo"
)

// newDemoCmd is `labctl demo`: the capstone running on this machine, with scripted scenarios.
func (a *app) newDemoCmd() *cobra.Command {
	var mine bool
	var scenario, prefix, stateDir string
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
	cmd.Flags().StringVar(&prefix, "prefix", demo.DefaultPrefix, "prefix of the Consul service names, topic and databases")
	cmd.Flags().StringVar(&stateDir, "state-dir", "", "directory for the binary, the logs and demo.json (default a new temporary directory)")
	_ = cmd.Flags().MarkHidden("prefix") // the tests' own namespace
	cmd.RunE = a.runE(func(cmd *cobra.Command, _ []string) error {
		began := time.Now()
		ctx := cmd.Context()
		var run demo.Scenario
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
		cfg := demo.Config{Root: l.Root(), Prefix: prefix, StateDir: stateDir, Began: began, Progress: func(f string, args ...any) {
			fmt.Fprintf(a.stderr, "demo: "+f+"\n", args...)
		}}
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
		if run.Run != nil {
			return a.playScenario(ctx, sys, run)
		}
		return a.demoMenu(ctx, sys)
	})
	return cmd
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
	fmt.Fprintf(w, "  Kafka       %s   topic %s\n", strings.Join(s.Brokers, ","), s.Topic)
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
