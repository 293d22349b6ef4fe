package loadgen

import (
	"fmt"
	"strings"
	"time"
)

// Table is results as a Markdown table, each row with its throughput and median latency as a ratio to the
// result named baseline (the bare Gin handler measured in the same run); a name no result has leaves the
// ratios out.
func Table(results []Result, baseline string) string {
	var base *Result
	for i := range results {
		if results[i].Name == baseline {
			base = &results[i]
		}
	}
	var b strings.Builder
	b.WriteString("| path | requests | errors | req/s | p50 | p99 | max |")
	if base != nil {
		b.WriteString(" req/s vs baseline | p50 vs baseline |")
	}
	b.WriteString("\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	if base != nil {
		b.WriteString(" ---: | ---: |")
	}
	for _, r := range results {
		fmt.Fprintf(&b, "\n| %s | %d | %d | %.0f | %s | %s | %s |", r.Name, r.Requests, r.Errors, r.Throughput,
			ms(r.P50), ms(r.P99), ms(r.Max))
		if base != nil {
			fmt.Fprintf(&b, " %.3f | %.1f |", r.Throughput/base.Throughput, float64(r.P50)/float64(base.P50))
		}
	}
	return b.String() + "\n"
}

// MemoryTable is each process's resident memory as a Markdown table, in the order of names.
func MemoryTable(names []string, mem map[string]Memory) string {
	var b strings.Builder
	b.WriteString("| process | RSS after the load | peak RSS |\n| --- | ---: | ---: |")
	for _, n := range names {
		m := mem[n]
		fmt.Fprintf(&b, "\n| %s | %s | %s |", n, mib(m.RSS), mib(m.Peak))
	}
	return b.String() + "\n"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
