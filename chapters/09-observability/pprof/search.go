// Package pprof is a small catalogue search service with two performance bugs in it: a CPU hot spot
// and a goroutine leak. Neither shows up in a unit test that checks results; both show up at once in a
// profile of the running service. The exercise is to find them with pprof and fix them.
package pprof

import (
	"regexp"
	"strings"
)

// Product is one entry of the catalogue.
type Product struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// Search returns the products whose name contains query as a whole word, ignoring case, in catalogue
// order. "tea" finds "Green Tea" and "tea pot" but not "Steak" or "teapot"; characters in query are
// literal ("1.5" does not find "105"). An empty query finds nothing.
func Search(products []Product, query string) []Product {
	query = strings.TrimSpace(query)
	if query == "" {
		return nil
	}
	var out []Product
	for _, p := range products {
		if matchWord(p.Name, query) {
			out = append(out, p)
		}
	}
	return out
}

// matchWord reports whether word occurs in text as a whole word, ignoring case.
//
// TODO(09-pprof): under load, the CPU profile of the service is dominated by what happens below
// Search. Profile BenchmarkSearch (see the lesson), read `go tool pprof -top` and `-list Search`, and
// make a search cheaper without changing a single result.
func matchWord(text, word string) bool {
	re := regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(word) + `\b`)
	return re.MatchString(text)
}
