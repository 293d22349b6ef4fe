package tui

import (
	"testing"
	"time"
)

func TestStepStatus(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		step  string
		after time.Duration
		lang  string
		want  string
		why   string
	}{
		{"no step yet", "", 5 * time.Second, "en", "", "nothing to say before the lab reports a phase"},
		{"fresh step", "compiling 00-go-for-services …", time.Second, "en", "compiling 00-go-for-services …", "a short step shows no time"},
		{"long step", "compiling 00-go-for-services …", 12 * time.Second, "en", "compiling 00-go-for-services … 12 s", "a long wait shows it is alive"},
		{"long step in Chinese", "正在编译 00 …", 3 * time.Second, "zh", "正在编译 00 … 3 秒", "the unit is translated too"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checker{step: tt.step, stepSince: t0}
			if got := c.stepStatus(dictionary[tt.lang], t0.Add(tt.after)); got != tt.want {
				t.Errorf("stepStatus() after %v = %q, want %q: %s", tt.after, got, tt.want, tt.why)
			}
		})
	}
}
