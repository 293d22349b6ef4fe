//go:build !race

package race

// raceDetector tells the tests whether this binary was built with -race.
const raceDetector = false
