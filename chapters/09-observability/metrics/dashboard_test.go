package metrics_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	"github.com/stretchr/testify/require"
)

// dashboardPath is the RED dashboard that infra/compose.yaml provisions into Grafana. It lives in the course's
// root module, which chapters/go.mod replaces with a directory (../ in the repository; elsewhere in a copy).
func dashboardPath(t *testing.T) string {
	t.Helper()
	root := filepath.Join("..", "..", "..")
	if gomod, err := os.ReadFile(filepath.Join("..", "..", "go.mod")); err == nil {
		if m := replaceRoot.FindSubmatch(gomod); m != nil {
			root = string(m[1])
			if !filepath.IsAbs(root) {
				root = filepath.Join("..", "..", root)
			}
		}
	}
	return filepath.Join(root, "infra", "grafana", "dashboards", "red.json")
}

var replaceRoot = regexp.MustCompile(`(?m)^replace github\.com/gomicrolab/microlab => (\S+)`)

type grafanaPanel struct {
	Title   string                  `json:"title"`
	Type    string                  `json:"type"`
	Targets []struct{ Expr string } `json:"targets"`
	Panels  []grafanaPanel          `json:"panels"` // a collapsed row keeps its panels inside
}

type grafanaDashboard struct {
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			AllValue   string `json:"allValue"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// grafanaVar matches Grafana's variable syntaxes: $name, ${name}, ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// interpolate does what Grafana does before it sends a query: built-in intervals become durations and a
// template variable becomes its "All" value, so that Prometheus' own parser can read the result.
func interpolate(expr string, vars map[string]string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		switch name {
		case "__rate_interval", "__interval", "__range":
			return "1m"
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return m // unknown: the parser will say so
	})
}

// labelValuesMetric reads the metric of a Grafana variable query label_values(metric, label).
var labelValuesMetric = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)

func TestMetricsDashboard(t *testing.T) {
	dashboardPath := dashboardPath(t)
	raw, err := os.ReadFile(dashboardPath)
	require.NoError(t, err, "read the RED dashboard %s", dashboardPath)
	var d grafanaDashboard
	require.NoError(t, json.Unmarshal(raw, &d), "%s is not valid dashboard JSON", dashboardPath)

	// What the learner's service exports: each family, its series names and its label names.
	s := newServer(t)
	s.do(http.MethodGet, "/orders/1")
	s.do(http.MethodGet, "/no-such-route")
	fams, err := s.reg.Gather()
	require.NoError(t, err)
	require.NotEmpty(t, fams, "the server's registry is empty after two requests, so no panel could show anything: New must create the metrics and register them with the registry it is given (not the global default one)")
	exported := map[string][]string{} // series name -> label names it carries
	for _, f := range fams {
		var labels []string
		for _, lp := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		// Labels that Prometheus adds to every scraped series.
		labels = append(labels, "job", "instance")
		switch f.GetType().String() {
		case "HISTOGRAM":
			exported[f.GetName()+"_bucket"] = append(slices.Clone(labels), "le")
			exported[f.GetName()+"_sum"] = labels
			exported[f.GetName()+"_count"] = labels
		default:
			exported[f.GetName()] = labels
		}
	}
	var names []string
	for n := range exported {
		names = append(names, n)
	}
	sort.Strings(names)

	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = cmpOr(v.AllValue, ".+")
		if m := labelValuesMetric.FindStringSubmatch(v.Definition); m != nil {
			_, ok := exported[m[1]]
			require.True(t, ok, "dashboard variable $%s reads %s, which the service does not export (it exports %v)", v.Name, m[1], names)
		}
	}

	var panels []grafanaPanel
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if p.Type != "row" {
				panels = append(panels, p)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	require.NotEmpty(t, panels, "%s has no panels", dashboardPath)

	queried := map[string]bool{}
	for _, p := range panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, target := range p.Targets {
			expr := interpolate(target.Expr, vars)
			ast, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
			require.NoError(t, err, "panel %q: its PromQL does not parse (after Grafana's interpolation: %s)", p.Title, expr)
			parser.Inspect(ast, func(node parser.Node, path []parser.Node) error {
				switch n := node.(type) {
				case *parser.VectorSelector:
					labels, ok := exported[n.Name]
					require.True(t, ok, "panel %q queries %q, which the service does not export (it exports %v): the panel would stay empty", p.Title, n.Name, names)
					queried[n.Name] = true
					for _, m := range n.LabelMatchers {
						if m.Name == "__name__" {
							continue
						}
						require.Contains(t, labels, m.Name, "panel %q selects %s{%s}, but the service's series carry only %v: the panel would stay empty", p.Title, n.Name, m.Name, labels)
					}
				case *parser.AggregateExpr:
					for _, g := range n.Grouping {
						require.True(t, slices.ContainsFunc(names, func(s string) bool { return slices.Contains(exported[s], g) }),
							"panel %q groups by %q, a label no exported series carries", p.Title, g)
					}
				}
				return nil
			})
		}
	}
	// The dashboard shows all three RED signals: requests (rate and errors) and the latency histogram.
	for _, want := range []string{"http_requests_total", "http_request_duration_seconds_bucket"} {
		require.True(t, queried[want], "no panel queries %s: a RED dashboard shows rate, errors and duration", want)
	}
	require.True(t, strings.Contains(string(raw), "histogram_quantile"), "no panel estimates a latency quantile with histogram_quantile")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
