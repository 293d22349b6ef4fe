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
	// The profile showed regexp.compile (syntax.Parse, compileOnePass, ...) under matchWord: the pattern
	// was compiled once per product. It depends only on the query, so compile it once per search; the
	// match itself allocates nothing. A package-level cache keyed by query would save the one compile
	// left, but it needs a lock and a bound (queries come from users), and one compile per request is
	// not what the profile points at any more.
	re := wordPattern(query)
	var out []Product
	for _, p := range products {
		if re.MatchString(p.Name) {
			out = append(out, p)
		}
	}
	return out
}

// wordPattern matches word as a whole word, ignoring case; QuoteMeta keeps "1.5" literal.
func wordPattern(word string) *regexp.Regexp {
	return regexp.MustCompile(`(?i)\b` + regexp.QuoteMeta(word) + `\b`)
}
