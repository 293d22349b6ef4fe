package tui

import (
	"github.com/charmbracelet/lipgloss"

	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

var (
	titleStyle    = lipgloss.NewStyle().Bold(true)
	headingStyle  = lipgloss.NewStyle().Bold(true).Underline(true)
	selectedStyle = lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("212"))
	dimStyle      = lipgloss.NewStyle().Foreground(lipgloss.Color("245"))
	errorStyle    = lipgloss.NewStyle().Foreground(lipgloss.Color("203"))
	hintStyle     = lipgloss.NewStyle().Foreground(lipgloss.Color("179"))
	ruleStyle     = lipgloss.NewStyle().Foreground(lipgloss.Color("240"))
)

// statusLook is how one status is drawn: an icon plus a colour. Every status has its own entry,
// so a skipped or not-run exercise can never look like a passed one.
type statusLook struct {
	icon  string
	style lipgloss.Style
}

// statusStale is the UI's own status for an exercise whose check was cancelled: what it was before may no
// longer be true, so it is shown as unknown (never as a pass) until the next check.
const statusStale runner.Status = "stale"

var statusLooks = map[runner.Status]statusLook{
	statusStale:               {"?", lipgloss.NewStyle().Foreground(lipgloss.Color("245"))},
	runner.StatusPass:         {"✓", lipgloss.NewStyle().Foreground(lipgloss.Color("42"))},
	runner.StatusFail:         {"✗", lipgloss.NewStyle().Foreground(lipgloss.Color("203"))},
	runner.StatusCompileError: {"✗", lipgloss.NewStyle().Foreground(lipgloss.Color("170"))},
	runner.StatusInfraError:   {"!", lipgloss.NewStyle().Foreground(lipgloss.Color("214"))},
	runner.StatusTimeout:      {"!", lipgloss.NewStyle().Foreground(lipgloss.Color("208"))},
	runner.StatusSkip:         {"-", lipgloss.NewStyle().Foreground(lipgloss.Color("245"))},
	runner.StatusModified:     {"!", lipgloss.NewStyle().Foreground(lipgloss.Color("214"))},
	runner.StatusNotRun:       {"·", lipgloss.NewStyle().Foreground(lipgloss.Color("240"))},
}

// statusBadge renders "icon label", e.g. "✗ compile error". An empty status is not run; a status this UI
// does not know is shown by its raw name rather than guessed at.
func statusBadge(s runner.Status, t labels) string {
	if s == "" {
		s = runner.StatusNotRun
	}
	look, ok := statusLooks[s]
	label, known := t.Status[s]
	if !ok || !known {
		return dimStyle.Render("? " + string(s))
	}
	return look.style.Render(look.icon + " " + label)
}

// statusIcon is the coloured icon alone, for per-test lines.
func statusIcon(s runner.Status) string {
	look, ok := statusLooks[s]
	if !ok {
		return dimStyle.Render("?")
	}
	return look.style.Render(look.icon)
}
