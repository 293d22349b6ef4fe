package cli

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/gomicrolab/microlab/labctl/internal/course"
	"github.com/gomicrolab/microlab/labctl/internal/i18n"
	"github.com/gomicrolab/microlab/labctl/internal/lab"
	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

// Errors in the user's language. labctl's own errors carry a message key (msgError); the errors of the
// lab and of cobra's parsing are recognised here, by type or sentinel, or by cobra's fixed wording. What is
// not recognised stays as it is: a technical detail (a path, a provider's reason) is better in English
// than guessed at.

// msgError is an error of labctl's own, worded from the message catalogue.
type msgError struct {
	key  string
	args []any
}

func (e *msgError) Error() string { return i18n.T("en", e.key, e.args...) }

func msgErr(key string, args ...any) error { return &msgError{key: key, args: args} }

// cobraErrors are cobra's and pflag's argument errors, with the message key of each.
var cobraErrors = []struct {
	re  *regexp.Regexp
	key string
}{
	{regexp.MustCompile(`^unknown flag: (\S+)$`), "err.flag-unknown"},
	{regexp.MustCompile(`^unknown shorthand flag: '(.)' in \S+$`), "err.flag-unknown"},
	{regexp.MustCompile(`^flag needs an argument: (?:'.' in )?(\S+)$`), "err.flag-argument"},
	{regexp.MustCompile(`^invalid argument "(.*)" for "(.*)" flag: .*$`), "err.flag-invalid"},
	{regexp.MustCompile(`^unknown command "(.*)" for "(.*)"`), "err.command-unknown"},
	{regexp.MustCompile(`^accepts at most (\d+) arg\(s\), received (\d+)$`), "err.args-at-most"},
	{regexp.MustCompile(`^accepts (\d+) arg\(s\), received (\d+)$`), "err.args-exactly"},
	{regexp.MustCompile(`^unknown command "(.*)" for "labctl"`), "err.command-unknown"},
}

// errorText is the one message Main prints for err, in lang.
func errorText(lang string, err error) string {
	if lang != "zh" {
		if exitCode(err) == ExitBadInput {
			return oneLine(err)
		}
		return err.Error()
	}
	var me *msgError
	var ut *course.UnknownTargetError
	switch {
	case errors.As(err, &me):
		return i18n.T(lang, me.key, me.args...)
	case errors.Is(err, context.Canceled):
		return i18n.T(lang, "err.interrupted")
	case errors.As(err, &ut):
		if ut.Suggestion != "" {
			return i18n.T(lang, "err.unknown-target-suggest", ut.Target, ut.Suggestion)
		}
		return i18n.T(lang, "err.unknown-target", ut.Target)
	case errors.Is(err, runner.ErrNoGoToolchain):
		return i18n.T(lang, "err.no-go")
	case errors.Is(err, lab.ErrNotGitCheckout):
		return i18n.T(lang, "err.not-git")
	case errors.Is(err, lab.ErrNoSolution):
		return i18n.T(lang, "err.no-solution")
	case errors.Is(err, course.ErrInvalidManifest):
		return i18n.T(lang, "err.manifest", err.Error()) // file:line and the problem, for the author
	}
	first := oneLine(err)
	for _, c := range cobraErrors {
		if m := c.re.FindStringSubmatch(first); m != nil {
			args := make([]any, len(m)-1)
			for i, s := range m[1:] {
				args[i] = s
			}
			return i18n.T(lang, c.key, args...)
		}
	}
	if exitCode(err) == ExitBadInput {
		return first
	}
	return err.Error()
}

// infraText words an exercise's infra error (lab's "infrastructure unavailable: redis unavailable: why")
// in lang; the reason from the providers stays as it is.
func infraText(lang, msg string) string {
	service, reason, ok := lab.ParseInfraDown(msg)
	if !ok || lang != "zh" {
		return msg
	}
	return i18n.T(lang, "err.infra-down", service, reason)
}

// langOf picks the language before cobra has parsed the flags (a bad flag stops the parsing): the
// --lang argument, else the environment.
func (a *app) langOf(args []string) string {
	flag := a.langFlag
	for i, arg := range args {
		if v, ok := strings.CutPrefix(arg, "--lang="); ok {
			flag = v
		} else if arg == "--lang" && i+1 < len(args) {
			flag = args[i+1]
		}
	}
	if flag != "en" && flag != "zh" {
		flag = ""
	}
	return i18n.Lang(flag, a.getenv("LC_ALL"), a.getenv("LC_MESSAGES"), a.getenv("LANG"))
}
