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
var ErrNotGitCheckout = errors.New("not a git checkout with a commit: reset restores the starter files from git (clone the course with git to use it)")

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

// headFiles lists the files under dir (relative to the root, slash-separated) in the HEAD commit.
func (l *Lab) headFiles(ctx context.Context, dir string) ([]string, error) {
	if _, err := l.git(ctx, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err != nil {
		return nil, ErrNotGitCheckout
	}
	prefix, err := l.git(ctx, "rev-parse", "--show-prefix")
	if err != nil {
		return nil, ErrNotGitCheckout
	}
	p := strings.TrimSpace(string(prefix))
	out, err := l.git(ctx, "ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD", "--", p+dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f != "" {
			files = append(files, strings.TrimPrefix(f, p))
		}
	}
	return files, nil
}

// headContent returns a file's content (path relative to the root) in the HEAD commit.
func (l *Lab) headContent(ctx context.Context, path string) ([]byte, error) {
	return l.git(ctx, "show", "HEAD:./"+path)
}
