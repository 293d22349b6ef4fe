package tui

import "github.com/gomicrolab/microlab/labctl/internal/lab"

// CheckOptions is the lab's, so that *lab.Lab satisfies Lab as it is. The UI always checks the learner's
// own code; it sets only Logf, to show the lab's warnings among the streamed output.
type CheckOptions = lab.CheckOptions
