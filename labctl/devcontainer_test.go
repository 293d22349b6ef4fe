package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The dev container cannot be built here (nothing may pull its base image or its docker-in-docker
// feature), so this test checks what can go stale without a build: the Go version, Docker, and that
// creating the container runs the provisioning of the README's test command.
func TestDevcontainer(t *testing.T) {
	root := filepath.Join("..")
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var dc struct {
		Build struct {
			Dockerfile string `json:"dockerfile"`
		} `json:"build"`
		Features          map[string]json.RawMessage `json:"features"`
		PostCreateCommand string                     `json:"postCreateCommand"`
	}
	if err := json.Unmarshal([]byte(read(".devcontainer/devcontainer.json")), &dc); err != nil {
		t.Fatalf(".devcontainer/devcontainer.json: %v (plain JSON, no comments: this test parses it)", err)
	}

	goMod := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(read("go.mod"))
	if goMod == nil {
		t.Fatal("go.mod has no go directive")
	}
	dockerfile := read(filepath.Join(".devcontainer", dc.Build.Dockerfile))
	from := regexp.MustCompile(`(?m)^FROM golang:(\d+\.\d+(?:\.\d+)?)-bookworm\b`).FindStringSubmatch(dockerfile)
	if from == nil {
		t.Fatalf(".devcontainer/%s has no `FROM golang:<version>-bookworm` line (the provisioning needs Debian's apt-get)", dc.Build.Dockerfile)
	}
	if from[1] != goMod[1] {
		t.Errorf(".devcontainer/%s uses Go %s, want %s: go.mod's go directive", dc.Build.Dockerfile, from[1], goMod[1])
	}

	dind := false
	for id := range dc.Features {
		if strings.HasPrefix(id, "ghcr.io/devcontainers/features/docker-in-docker:") {
			dind = true
		}
	}
	if !dind {
		t.Errorf("devcontainer.json features = %v, want docker-in-docker: the Docker provider needs a daemon", dc.Features)
	}

	// The README's test command is `make test`, which is `provision` then the tests; the container runs the
	// provisioning once, when it is created.
	if !strings.Contains(read("README.md"), "make test ") {
		t.Error("README.md no longer names `make test`; update this test and devcontainer.json's postCreateCommand")
	}
	if !regexp.MustCompile(`(?m)^test: provision\b`).MatchString(read("Makefile")) {
		t.Error("Makefile's test target no longer starts with provision; update devcontainer.json's postCreateCommand")
	}
	if dc.PostCreateCommand != "make provision" {
		t.Errorf("devcontainer.json postCreateCommand = %q, want \"make provision\": what `make test` provisions", dc.PostCreateCommand)
	}
}
