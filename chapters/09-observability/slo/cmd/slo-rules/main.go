// Command slo-rules prints the rules file of 09-slo, for promtool and for a real Prometheus:
//
//	go run ./09-observability/slo/cmd/slo-rules > /tmp/slo.rules.yml && promtool check rules /tmp/slo.rules.yml
package main

import (
	"fmt"

	"github.com/gomicrolab/microlab/chapters/09-observability/slo"
)

func main() { fmt.Print(slo.Rules) }
