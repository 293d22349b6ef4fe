package infra

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBinFromEnv: a LAB_*_BIN variable, when set, names the binary outright; a path that is not there is an
// error (a typo must not fall back silently to another binary on PATH), and an unset variable leaves the search to
// the caller.
func TestBinFromEnv(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "server")
	if err := os.WriteFile(existing, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, value     string
		wantSet, wantOK bool
	}{
		{"unset", "", false, true},
		{"an existing file", existing, true, true},
		{"a missing file", existing + "-missing", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("LAB_TEST_BIN", tc.value)
			p, set, err := binFromEnv("LAB_TEST_BIN")
			if set != tc.wantSet || (err == nil) != tc.wantOK {
				t.Fatalf("binFromEnv(LAB_TEST_BIN=%q) = %q, set %v, err %v; want set %v, error %v", tc.value, p, set, err, tc.wantSet, !tc.wantOK)
			}
			if tc.wantSet && tc.wantOK && p != tc.value {
				t.Errorf("binFromEnv = %q, want the path the variable names, %q", p, tc.value)
			}
		})
	}
}
