package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
	"github.com/gomicrolab/microlab/labctl/internal/watch"
)

func (a *app) newWatchCmd() *cobra.Command {
	var opts watch.Options
	cmd := &cobra.Command{
		Use:   "watch [chapter|exercise]",
		Short: "Check a chapter or one exercise every time you save (default: the first chapter not yet done)",
		Args:  cobra.MaximumNArgs(1),
		RunE: a.runE(func(cmd *cobra.Command, args []string) error {
			l, err := a.open()
			if err != nil {
				return err
			}
			if err := l.CheckToolchain(); err != nil {
				return err // no go: every check would fail, so a watch would only repeat the error (exit 3)
			}
			ctx := cmd.Context()
			target := firstArg(args)
			if target == "" {
				target = firstUnfinished(l)
			}
			if _, err := l.Resolve(target); err != nil {
				return err
			}
			ch, err := l.Course().ResolveChapter(target) // an exercise's chapter: its tests may import any package of it
			if err != nil {
				return err
			}
			opts.Poll = opts.Poll || cmd.Flags().Changed("poll-interval") // an interval asks for polling
			if opts.Interval <= 0 {
				return badInput(errors.New(a.t("watch.badInterval", opts.Interval)))
			}
			changes, mode, err := l.WatchWith(ctx, ch.ID, opts)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, a.t("watch.start", "chapters/"+ch.Dir))
			if mode.Polling {
				fmt.Fprintln(a.stdout, a.t("watch.polling", opts.Interval, mode.Why))
			}
			a.watchCheck(ctx, l, target)
			for path := range changes {
				if a.color() {
					fmt.Fprint(a.stdout, "\x1b[H\x1b[2J") // clear the screen between runs on a terminal
				}
				rel, _ := filepath.Rel(l.Root(), path)
				fmt.Fprintln(a.stdout, a.t("watch.changed", rel))
				a.watchCheck(ctx, l, target)
			}
			return ctx.Err() // the changes end when ctx does: Ctrl-C, exit 130
		}),
	}
	cmd.Flags().BoolVar(&opts.Poll, "poll", false, "poll the files for changes instead of waiting for file events (network drives, WSL's /mnt/c, some container mounts); chosen automatically where events do not arrive")
	cmd.Flags().DurationVar(&opts.Interval, "poll-interval", watch.DefaultInterval, "how often to poll; setting it implies --poll")
	return cmd
}

// watchCheck runs one check and prints it; errors are printed, never fatal, so the watch goes on.
func (a *app) watchCheck(ctx context.Context, l *lab.Lab, target string) {
	exercises, err := l.Resolve(target)
	if err != nil {
		fmt.Fprintln(a.stderr, "labctl: "+err.Error())
		return
	}
	p := a.newProgress(isTTY(a.stderr))
	opts := lab.CheckOptions{Progress: p.step, Logf: func(f string, args ...any) { p.line(fmt.Sprintf(f, args...)) }}
	stopProgress := p.run()
	results, err := l.Check(ctx, exercises, opts, nil)
	stopProgress()
	if errors.Is(err, context.Canceled) {
		return
	}
	if err != nil && results == nil {
		fmt.Fprintln(a.stderr, "labctl: "+err.Error())
		return
	}
	a.renderResults(a.stdout, l.Course(), results)
}

// firstUnfinished is the first chapter with an exercise whose last check did not pass.
func firstUnfinished(l *lab.Lab) string {
	for _, ch := range l.Course().Chapters {
		for _, ex := range ch.Exercises {
			if l.Status(ex.ID) != runner.StatusPass {
				return ch.ID
			}
		}
	}
	if len(l.Course().Chapters) > 0 {
		return l.Course().Chapters[0].ID
	}
	return ""
}
