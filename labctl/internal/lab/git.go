package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// ErrNotGitCheckout means reset cannot find the starter files: the course is not a git checkout
// with at least one commit.
var ErrNotGitCheckout = errors.New("not a git checkout with the course's history: reset restores the starter files from git's objects (clone the course with git to use it)")

// git runs git in the repository root and returns its stdout.
func (l *Lab) git(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", l.Root()}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
