package infra

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// composeFile is the part of infra/compose.yaml that must agree with the Docker provider.
type composeFile struct {
	Services map[string]struct {
		Image  string            `yaml:"image"`
		Ports  []string          `yaml:"ports"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"services"`
}

// composeImageDefault takes the official image out of "${X_IMAGE:-${MICROLAB_REGISTRY:-}name:tag}".
var composeImageDefault = regexp.MustCompile(`^\$\{[A-Z_]+:-\$\{MICROLAB_REGISTRY:-\}([^}]+)\}$`)

// TestComposeMatchesProvider keeps compose.yaml on the provider's official images, on loopback, and labelled
// so that `labctl infra down` finds its containers. (No compose engine runs in CI, so this is what can be checked.)
func TestComposeMatchesProvider(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
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
			if len(s.Ports) == 0 {
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
		})
	}
}
