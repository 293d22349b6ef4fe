package infra

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of infra/compose.yaml that must agree with the Docker provider.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Ports       []string          `yaml:"ports"`
		Labels      map[string]string `yaml:"labels"`
		NetworkMode string            `yaml:"network_mode"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
	} `yaml:"services"`
}

// hostNetworkBind is, for each compose service that shares the host's network, what keeps it on loopback: a
// command-line flag or an environment variable (NAME=value).
var hostNetworkBind = map[string]string{
	"prometheus": "--web.listen-address=127.0.0.1:9090",
	"grafana":    "GF_SERVER_HTTP_ADDR=127.0.0.1",
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return f
}

// composeImageDefault takes the official image out of "${X_IMAGE:-${MICROLAB_REGISTRY:-}name:tag}".
var composeImageDefault = regexp.MustCompile(`^\$\{[A-Z_]+:-\$\{MICROLAB_REGISTRY:-\}([^}]+)\}$`)

// TestComposeMatchesProvider keeps compose.yaml on the provider's official images, on loopback, and labelled
// so that `labctl infra down` finds its containers. (No compose engine runs in CI, so this is what can be checked.)
func TestComposeMatchesProvider(t *testing.T) {
	f := readCompose(t)
	for _, svc := range Services {
		t.Run(string(svc), func(t *testing.T) {
			s, ok := f.Services[string(svc)]
			if !ok {
				t.Fatalf("compose.yaml has no service %q", svc)
			}
			m := composeImageDefault.FindStringSubmatch(s.Image)
			if m == nil {
				t.Fatalf("image = %q, want ${%s_IMAGE:-${MICROLAB_REGISTRY:-}<official image>}", s.Image, strings.ToUpper(string(svc)))
			}
			if want := dockerSpecs[svc].official; m[1] != want {
				t.Errorf("default image = %q, want %q (the Docker provider's)", m[1], want)
			}
		})
	}
	for name, s := range f.Services {
		t.Run("loopback/"+name, func(t *testing.T) {
			if s.NetworkMode == "host" {
				bind, ok := hostNetworkBind[name]
				if !ok {
					t.Fatalf("network_mode: host, which only %v may use", hostNetworkBind)
				}
				k, v, _ := strings.Cut(bind, "=")
				if !slices.Contains(s.Command, bind) && s.Environment[k] != v {
					t.Errorf("shares the host's network without %s in its command or environment: it would listen beyond loopback", bind)
				}
				if len(s.Ports) > 0 {
					t.Errorf("ports %v with network_mode: host mean nothing", s.Ports)
				}
			} else if len(s.Ports) == 0 {
				t.Errorf("no published port")
			}
			for _, p := range s.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("port %q is published beyond loopback, want 127.0.0.1:...", p)
				}
			}
			if s.Labels["microlab"] != "1" {
				t.Errorf("labels = %v, want microlab=1 so that `labctl infra down` removes it", s.Labels)
			}
			for _, v := range s.Volumes {
				src, _, _ := strings.Cut(v, ":")
				if strings.HasPrefix(src, "./") {
					if _, err := os.Stat(src); err != nil {
						t.Errorf("volume %q: %v", v, err)
					}
				}
			}
		})
	}
}

// TestComposeGrafanaProvisioning checks that Grafana gets both data sources at the addresses compose gives
// them, and loads the dashboards of infra/grafana/dashboards. (Grafana itself cannot run on the course's
// machines: nothing can be pulled there, and Debian has no package.)
func TestComposeGrafanaProvisioning(t *testing.T) {
	raw, err := os.ReadFile("grafana/provisioning/datasources/datasources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct{ Name, Type, URL string } `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil {
		t.Fatalf("datasources.yaml: %v", err)
	}
	want := map[string]string{"prometheus": "http://127.0.0.1:9090", "jaeger": "http://127.0.0.1:16686"}
	for _, d := range ds.Datasources {
		if u, ok := want[d.Type]; ok && d.URL == u {
			delete(want, d.Type)
		}
	}
	if len(want) > 0 {
		t.Errorf("datasources.yaml lacks data sources (type: url) %v", want)
	}
	raw, err = os.ReadFile("grafana/provisioning/dashboards/dashboards.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var dp struct {
		Providers []struct {
			Type    string            `yaml:"type"`
			Options map[string]string `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(raw, &dp); err != nil {
		t.Fatalf("dashboards.yaml: %v", err)
	}
	f := readCompose(t)
	mounted := slices.Contains(f.Services["grafana"].Volumes, "./grafana/dashboards:/var/lib/grafana/dashboards:ro")
	if len(dp.Providers) != 1 || dp.Providers[0].Type != "file" || dp.Providers[0].Options["path"] != "/var/lib/grafana/dashboards" || !mounted {
		t.Errorf("dashboard providers = %+v (grafana mounts ./grafana/dashboards there: %v), want one file provider at /var/lib/grafana/dashboards", dp.Providers, mounted)
	}
}
