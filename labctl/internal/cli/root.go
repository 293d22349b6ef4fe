// Package cli is labctl's command line: one file per subcommand, all driving package lab.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/i18n"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
)

// app is what every subcommand shares: streams, global flags, and the lab once opened.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string

	langFlag string
	rootFlag string
	lang     string
}

// Main runs labctl with args (without the program name) and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := a.newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	code := exitCode(err)
	if ctx.Err() != nil {
		// Ctrl-C (or SIGTERM, SIGHUP) is the cause whatever the command made of it: a watch that
		// ended, a doctor probe or a server start that failed because its context was cancelled.
		code, err = ExitInterrupted, context.Cause(ctx)
	}
	var ee *exitError
	if err != nil && !(errors.As(err, &ee) && ee.quiet) {
		lang := a.lang
		if lang == "" { // the flags were not parsed: a bad flag or argument
			lang = a.langOf(args)
		}
		msg := errorText(lang, err)
		if code == ExitInterrupted {
			msg = i18n.T(lang, "err.interrupted")
		}
		fmt.Fprintln(stderr, i18n.T(lang, "err.prefix")+msg)
	}
	return code
}

func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "labctl",
		Short: "The microservices lab: checks, hints, lessons and solutions",
		Long: "labctl runs the course in chapters/: with no command it opens the terminal UI.\n\n" +
			exitCodesHelp + "\n\nEnvironment:\n  LANG, LC_ALL  a value starting with zh selects Chinese unless --lang says otherwise\n" +
			"  LABCTL_ROOT   the course root, when not run inside it",
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.langFlag != "" && a.langFlag != "en" && a.langFlag != "zh" {
				return badInput(msgErr("err.lang", a.langFlag))
			}
			a.lang = i18n.Lang(a.langFlag, a.getenv("LC_ALL"), a.getenv("LC_MESSAGES"), a.getenv("LANG"))
			return nil
		},
		RunE: a.runE(a.runTUI),
	}
	root.PersistentFlags().StringVar(&a.langFlag, "lang", "", "language of messages and hints: en or zh (default from LC_ALL/LANG)")
	root.PersistentFlags().StringVar(&a.rootFlag, "root", "", "course root (default: the directory above with chapters/course.toml, or $LABCTL_ROOT)")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return badInput(err) })
	root.AddCommand(a.newListCmd(), a.newCheckCmd(), a.newHintCmd(), a.newSolutionCmd(), a.newResetCmd(),
		a.newWatchCmd(), a.newVerifyCmd(), a.newDoctorCmd(), a.wrapTree(newInfraCmd())) // newInfraCmd: infra.go
	root.AddCommand(a.newDemoCmd())   // demo.go: the capstone on this machine
	root.AddCommand(a.newMutateCmd()) // mutate.go: authors' mutation testing, hidden
	return root
}

// wrapTree applies runE to a command written elsewhere and its subcommands, so their errors get
// labctl's exit codes too.
func (a *app) wrapTree(cmd *cobra.Command) *cobra.Command {
	if cmd.RunE != nil {
		cmd.RunE = a.runE(cmd.RunE)
	}
	for _, sub := range cmd.Commands() {
		a.wrapTree(sub)
	}
	return cmd
}

// runE marks errors labctl does not classify as its own failures (exit 4), so that only cobra's
// argument errors fall through to "bad input".
func (a *app) runE(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		if _, ok := knownCode(err); ok || err == nil {
			return err
		}
		return &exitError{code: ExitInternal, err: err}
	}
}

// open finds the course root and opens the lab.
func (a *app) open() (*lab.Lab, error) {
	root, err := a.findRoot()
	if err != nil {
		return nil, err
	}
	return lab.Open(root)
}

func (a *app) findRoot() (string, error) {
	if r := firstNonEmpty(a.rootFlag, a.getenv("LABCTL_ROOT")); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, course.ManifestName)); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", badInput(msgErr("err.no-root", course.ManifestName, dir))
		}
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// isTTY says whether w is a terminal; colour and prompts depend on it.
func isTTY(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// color is on for terminals unless NO_COLOR is set or the terminal is dumb.
func (a *app) color() bool {
	return isTTY(a.stdout) && a.getenv("NO_COLOR") == "" && a.getenv("TERM") != "dumb"
}

func (a *app) t(key string, args ...any) string { return i18n.T(a.lang, key, args...) }

// text picks the course text in the user's language.
func (a *app) text(t course.Text) string {
	if a.lang == "zh" && t.Zh != "" {
		return t.Zh
	}
	return t.En
}

// oneLine keeps the first line of an error: each bad input gets one clear line.
func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
