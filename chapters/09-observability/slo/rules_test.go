package slo_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gomicrolab/microlab/chapters/09-observability/slo"
)

// promtool finds Prometheus' rule checker: $LAB_PROMTOOL_BIN, else promtool on PATH. Without it the SLO cannot
// be checked, and that is a failure, never a pass.
func promtool(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LAB_PROMTOOL_BIN"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found on PATH and LAB_PROMTOOL_BIN is not set: these tests run Prometheus' own rule checker. "+
			"Install it with `sudo apt-get install prometheus` (Debian/Ubuntu; promtool is in that package), `brew install prometheus` (macOS), "+
			"or download a release from https://prometheus.io/download/ and set LAB_PROMTOOL_BIN=/path/to/promtool (%v)", err)
	}
	return p
}

// writeRules writes slo.Rules to dir/slo.rules.yml.
func writeRules(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "slo.rules.yml")
	require.NoError(t, os.WriteFile(path, []byte(slo.Rules), 0o644))
	return path
}

func TestSLORulesValid(t *testing.T) {
	bin := promtool(t)
	path := writeRules(t, t.TempDir())
	out, err := exec.Command(bin, "check", "rules", path).CombinedOutput()
	require.NoError(t, err, "promtool check rules slo.Rules failed: the rules file is not valid (YAML, PromQL or rule names):\n%s", out)
}

// phase is a stretch of traffic: for minutes, per minute, count[key] requests, where key is a status code
// ("500", served by instance defaultInstance) or "instance/code" ("10.0.0.2:8080/500").
type phase struct {
	minutes int
	count   map[string]int
}

// defaultInstance is the instance label of a key without one. Prometheus adds job and instance to every series it
// scrapes, so the rules see both.
const defaultInstance = "10.0.0.1:8080"

// seriesFor renders the phases as promtool input series of http_requests_total for job="orders", one counter per
// instance and status code, sampled every minute from 0 at t=0.
func seriesFor(phases []phase) string {
	var keys []string
	for _, p := range phases {
		for k := range p.count {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, key := range keys {
		instance, code, found := strings.Cut(key, "/")
		if !found {
			instance, code = defaultInstance, key
		}
		values := []string{"0"}
		total := 0
		for _, p := range phases {
			r := p.count[key]
			values = append(values, fmt.Sprintf("%d+%dx%d", total+r, r, p.minutes-1))
			total += r * p.minutes
		}
		fmt.Fprintf(&b, "      - series: 'http_requests_total{job=\"orders\",instance=\"%s\",method=\"GET\",route=\"/orders/:id\",code=\"%s\"}'\n        values: '%s'\n", instance, code, strings.Join(values, " "))
	}
	return b.String()
}

// check is one evaluation: at minute `at`, which of the two alerts fire.
type check struct {
	at         int
	fast, slow bool
	why        string
}

func alertTests(checks []check) string {
	var b strings.Builder
	for _, c := range checks {
		for _, a := range []struct {
			name  string
			fires bool
		}{{"OrdersErrorBudgetFastBurn", c.fast}, {"OrdersErrorBudgetSlowBurn", c.slow}} {
			fmt.Fprintf(&b, "      - eval_time: %dm\n        alertname: %s\n", c.at, a.name)
			if a.fires {
				fmt.Fprintf(&b, "        exp_alerts:\n          - exp_labels: {severity: page, job: orders}\n            exp_annotations: {summary: %q}\n",
					map[bool]string{true: "orders is burning its 30-day error budget 14.4x too fast", false: "orders is burning its 30-day error budget 6x too fast"}[a.name == "OrdersErrorBudgetFastBurn"])
			}
		}
	}
	return b.String()
}

func ok(n200, n500 int) map[string]int { return map[string]int{"200": n200, "500": n500} }

func TestSLOAlerts(t *testing.T) {
	tests := []struct {
		name   string
		phases []phase
		checks []check
	}{
		{
			name:   "steady 0.1% 5xx, 5% 404s and 2% 429s never page",
			phases: []phase{{480, map[string]int{"200": 929, "404": 50, "429": 20, "500": 1}}},
			checks: []check{
				{at: 60, why: "0.1% 5xx is exactly the budget (burn rate 1); a 404 or a 429 (a client over its quota) is a 4xx, the client's error, not the service's: none of them pages"},
				{at: 240, why: "steady state at the budget must not page"},
				{at: 480, why: "steady state at the budget must not page"},
			},
		},
		{
			name:   "2% 5xx (500s and 503s) for an hour pages fast only once the 1h window shows it and stops within minutes",
			phases: []phase{{360, ok(999, 1)}, {60, map[string]int{"200": 980, "500": 10, "503": 10}}, {120, ok(999, 1)}},
			checks: []check{
				{at: 370, why: "10 minutes into a 20x burn the 1h error ratio is ~0.4%: the long window must confirm before anyone is woken (a 5m window alone pages on every blip)"},
				{at: 400, why: "40 minutes in, the 1h ratio is ~1.39%, below 14.4 x 0.1% = 1.44%: not yet"},
				{at: 410, fast: true, why: "50 minutes in, the 1h ratio (~1.71%) and the 5m ratio (2%) both exceed 14.4 x 0.1%: page; every 5xx is an error, the 503s of an overloaded service as much as the 500s"},
				{at: 430, why: "10 minutes after the errors stopped the 5m ratio is back at 0.1%: the short window ends the page, although the 1h ratio is still high"},
			},
		},
		{
			name:   "0.7% 5xx for six hours pages slow once the 6h window shows it",
			phases: []phase{{360, ok(999, 1)}, {360, ok(993, 7)}},
			checks: []check{
				{at: 480, why: "2 hours into a 7x burn: 7x is under the fast threshold, and the 6h ratio (~0.3%) is under 6 x 0.1%; a slow alert on a 1h window would already page"},
				{at: 650, why: "290 minutes in, the 6h ratio is ~0.58%, under 6 x 0.1% = 0.6%: not yet"},
				{at: 690, slow: true, why: "330 minutes in, the 6h ratio (~0.65%) and the 30m ratio (0.7%) both exceed 6 x 0.1%: page; 7x stays under the fast threshold 14.4x"},
			},
		},
		{
			name:   "1.3% 5xx for three hours pages slow and stops within 30 minutes",
			phases: []phase{{360, ok(999, 1)}, {180, ok(987, 13)}, {120, ok(999, 1)}},
			checks: []check{
				{at: 540, slow: true, why: "3 hours into a 13x burn, the 6h ratio (~0.7%) and the 30m ratio (1.3%) both exceed 6 x 0.1%: page; 13x stays under the fast threshold 14.4x"},
				{at: 572, why: "32 minutes after the errors stopped the 30m ratio is back at 0.1%: the short window ends the page, although the 6h (~0.7%) and 1h (~0.66%) ratios are still above 0.6%"},
			},
		},
		{
			name: "a quiet instance failing half its requests does not page while the job meets its SLO",
			phases: []phase{{480, map[string]int{
				"200": 9980, "500": 10, // a busy instance at the budget
				"10.0.0.2:8080/200": 5, "10.0.0.2:8080/500": 5, // a quiet one, half of its few requests fail
			}}},
			checks: []check{
				{at: 60, why: "the SLO is the job's: 15 errors in 10,000 requests is 0.15%, a burn rate of 1.5; the ratio is sum by (job) of the errors over sum by (job) of all requests, not per instance and not an average of the instances' ratios (50% and 0.1% average to 25%)"},
				{at: 360, why: "steady state at 1.5x must not page"},
				{at: 480, why: "steady state at 1.5x must not page"},
			},
		},
		{
			name:   "a 5 minute spike of 10% 5xx does not page",
			phases: []phase{{360, ok(999, 1)}, {5, ok(900, 100)}, {55, ok(999, 1)}},
			checks: []check{
				{at: 365, why: "the spike spends under 1% of the budget; the 5m ratio is 10% but the 1h ratio is ~0.94%: both windows must agree"},
				{at: 370, why: "the spike is over"},
				{at: 390, why: "the spike is over"},
			},
		},
		{
			name:   "1.43% 5xx among 5% 404s is under the fast threshold but over the slow one",
			phases: []phase{{180, map[string]int{"200": 9357, "404": 500, "500": 143}}},
			checks: []check{
				{at: 120, slow: true, why: "the error ratio is 5xx over ALL requests (143/10000 = 1.43%): under 1.44% for the fast alert, over 0.6% for the slow one; dividing by successes only (143/9357 = 1.53%) pages too early"},
			},
		},
	}
	bin := promtool(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeRules(t, dir)
			var why strings.Builder
			for _, c := range tt.checks {
				state := []string{}
				if c.fast {
					state = append(state, "FastBurn fires")
				}
				if c.slow {
					state = append(state, "SlowBurn fires")
				}
				if len(state) == 0 {
					state = append(state, "nothing fires")
				}
				fmt.Fprintf(&why, "  at %dm: %s: %s\n", c.at, strings.Join(state, ", "), c.why)
			}
			test := "rule_files: [slo.rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" +
				seriesFor(tt.phases) + "    alert_rule_test:\n" + alertTests(tt.checks)
			path := filepath.Join(dir, "slo_test.yml")
			require.NoError(t, os.WriteFile(path, []byte(test), 0o644))
			out, err := exec.Command(bin, "test", "rules", path).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules (%s) failed: the alerts do not fire as the SLO says.\nExpected:\n%s\npromtool says:\n%s\nThe test file was:\n%s", tt.name, why.String(), out, test)
			}
		})
	}
}
