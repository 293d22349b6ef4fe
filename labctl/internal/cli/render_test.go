package cli

import (
	"slices"
	"testing"

	"github.com/gomicrolab/microlab/labctl/internal/runner"
)

func TestDetailLines(t *testing.T) {
	tests := []struct {
		name string
		r    runner.ExerciseResult
		want []string
	}{
		{"one failure shows its message", runner.ExerciseResult{Status: runner.StatusFail, Tests: []runner.TestResult{
			{Name: "TestA", Status: runner.StatusPass},
			{Name: "TestB", Status: runner.StatusFail, Message: "b_test.go:3: got 1, want 2"},
		}}, []string{"TestB: fail", "  b_test.go:3: got 1, want 2"}},
		{"the other failures are named", runner.ExerciseResult{Status: runner.StatusFail, Tests: []runner.TestResult{
			{Name: "TestB", Status: runner.StatusFail, Message: "b_test.go:3: got 1, want 2"},
			{Name: "TestC", Status: runner.StatusSkip},
			{Name: "TestD", Status: runner.StatusTimeout},
		}}, []string{"TestB: fail", "  b_test.go:3: got 1, want 2", "also not passing: TestC (skip), TestD (timeout)"}},
		{"no test: the exercise's own message", runner.ExerciseResult{Status: runner.StatusNoTests, Message: "no test matches ^TestX"},
			[]string{"  no test matches ^TestX"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := detailLines(tt.r); !slices.Equal(got, tt.want) {
				t.Errorf("detailLines() = %q, want %q", got, tt.want)
			}
		})
	}
}
