package loadgen

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// Memory is a process's resident set, in bytes, read from /proc (Linux only).
type Memory struct {
	RSS  int64 // now (VmRSS)
	Peak int64 // the high-water mark since the process started (VmHWM)
}

// ReadMemory reads pid's resident memory from /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("memory of process %d: %w", pid, err)
	}
	var m Memory
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) != 3 || string(f[2]) != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(string(f[1]), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("memory of process %d: %q: %w", pid, sc.Text(), err)
		}
		switch string(f[0]) {
		case "VmRSS:":
			m.RSS = kb * 1024
		case "VmHWM:":
			m.Peak = kb * 1024
		}
	}
	if m.RSS == 0 || m.Peak == 0 {
		return Memory{}, fmt.Errorf("memory of process %d: no VmRSS/VmHWM in /proc/%d/status", pid, pid)
	}
	return m, nil
}
