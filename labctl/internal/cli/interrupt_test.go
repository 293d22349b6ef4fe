package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/lab/labtest"
)

// Whatever a command makes of a cancelled context (a failed probe, a watch that ends, a check cut short),
// Ctrl-C is the cause: exit 130 and one line that says so. labctl's signal tests send the real signal.
func TestInterruptedCommandsExit130(t *testing.T) {
	for _, args := range [][]string{{"doctor"}, {"check", "00-add"}, {"watch", "00-add"}, {"verify", "00-add", "--wrong"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errOut bytes.Buffer
			code := Main(ctx, append([]string{"--root", labtest.Course(t), "--lang", "en"}, args...), strings.NewReader(""), &out, &errOut)
			if code != ExitInterrupted || !strings.HasSuffix(errOut.String(), "labctl: interrupted\n") {
				t.Errorf("labctl %v interrupted = %d, stderr %q; want %d and \"labctl: interrupted\" last", args, code, errOut.String(), ExitInterrupted)
			}
		})
	}
}
