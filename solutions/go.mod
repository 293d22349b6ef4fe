module github.com/gomicrolab/microlab/solutions

go 1.26

// This module exists only to keep the solution overlays out of the root test pattern.
// Solutions are applied onto chapters/ with `go test -overlay`; see docs/authoring.md.
