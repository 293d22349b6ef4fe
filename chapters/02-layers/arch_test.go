package layers_test

import (
	"embed"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The chapter's source, embedded at build time. Embedding (rather than reading the disk) means the
// test sees exactly the files the build sees, including `go test -overlay`.
//
//go:embed domain app adapters transport cmd
var source embed.FS

const chapterPath = "github.com/gomicrolab/microlab/chapters/02-layers"

// violation is one import that breaks the layering.
type violation struct {
	Pkg    string // chapter-relative directory, e.g. "transport/httpapi"
	Import string // the offending import path
	Rule   string
}

// drivers are infrastructure: only adapters (and the composition root) may touch them.
var drivers = []string{"database/sql", "github.com/go-sql-driver/", "github.com/jackc/", "github.com/redis/", "github.com/gin-gonic/", "net/http"}

func isDriver(imp string) bool {
	return slices.ContainsFunc(drivers, func(d string) bool { return imp == d || strings.HasPrefix(imp, d) })
}

// isStd reports a standard-library import: its first element has no dot.
func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// layer is the first directory of a chapter package: domain, app, adapters, transport or cmd.
func layer(pkg string) string { first, _, _ := strings.Cut(pkg, "/"); return first }

// check applies the dependency rule to one package's imports.
func check(pkg string, imports []string) []violation {
	var out []violation
	add := func(imp, rule string) { out = append(out, violation{Pkg: pkg, Import: imp, Rule: rule}) }
	for _, imp := range imports {
		internal, isInternal := strings.CutPrefix(imp, chapterPath+"/")
		switch layer(pkg) {
		case "domain":
			switch {
			case isInternal && layer(internal) != "domain":
				add(imp, "the domain depends on nothing outside the domain")
			case !isInternal && !isStd(imp):
				add(imp, "the domain imports no third-party code")
			case isDriver(imp):
				add(imp, "the domain knows no database or transport")
			}
		case "app":
			switch {
			case isInternal && layer(internal) != "domain" && layer(internal) != "app":
				add(imp, "the application layer may import only the domain")
			case !isInternal && !isStd(imp):
				add(imp, "the application layer imports no third-party code")
			case isDriver(imp):
				add(imp, "the application layer knows no database or transport; declare an interface instead")
			}
		case "adapters":
			switch {
			case isInternal && layer(internal) != "domain" && layer(internal) != "app":
				if layer(internal) == "adapters" {
					add(imp, "adapters do not know one another")
				} else {
					add(imp, "adapters may import only app and domain")
				}
			}
		case "transport":
			switch {
			case isInternal && layer(internal) == "adapters":
				add(imp, "the transport skips the application layer: call app, which calls the adapters")
			case isInternal && layer(internal) != "domain" && layer(internal) != "app" && layer(internal) != "transport":
				add(imp, "the transport may import only app and domain")
			case isDriver(imp) && !strings.HasPrefix(imp, "github.com/gin-gonic/") && imp != "net/http":
				add(imp, "the transport must not import a database or cache driver")
			}
		case "cmd":
			// The composition root may import anything.
		default:
			add(imp, "package is in no layer")
		}
	}
	return out
}

// importsOf parses the embedded non-test Go files and returns imports per package directory.
func importsOf(t *testing.T) map[string][]string {
	t.Helper()
	pkgs := map[string][]string{}
	err := fs.WalkDir(source, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		src, err := source.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := path.Dir(p)
		for _, spec := range f.Imports {
			imp, err := strconv.Unquote(spec.Path.Value)
			if err != nil {
				return err
			}
			if !slices.Contains(pkgs[dir], imp) {
				pkgs[dir] = append(pkgs[dir], imp)
			}
		}
		if _, ok := pkgs[dir]; !ok {
			pkgs[dir] = nil
		}
		return nil
	})
	require.NoError(t, err, "reading the chapter's source")
	return pkgs
}

func TestArchitectureRules(t *testing.T) {
	const m = chapterPath + "/"
	tests := []struct {
		name    string
		pkg     string
		imports []string
		bad     []string // the imports that must be reported
	}{
		{"domain imports transport", "domain/order", []string{"fmt", m + "transport/httpapi"}, []string{m + "transport/httpapi"}},
		{"domain imports a driver", "domain/order", []string{"database/sql", "github.com/go-sql-driver/mysql"}, []string{"database/sql", "github.com/go-sql-driver/mysql"}},
		{"domain imports app", "domain/order", []string{m + "app"}, []string{m + "app"}},
		{"domain imports the domain", "domain/order", []string{"errors", m + "domain"}, nil},
		{"app imports an adapter", "app", []string{m + "adapters/mysqlstore"}, []string{m + "adapters/mysqlstore"}},
		{"app imports redis", "app", []string{"github.com/redis/go-redis/v9"}, []string{"github.com/redis/go-redis/v9"}},
		{"app imports the domain", "app", []string{"context", m + "domain/order"}, nil},
		{"transport skips app", "transport/httpapi", []string{m + "adapters/mysqlstore"}, []string{m + "adapters/mysqlstore"}},
		{"transport imports a driver", "transport/httpapi", []string{"github.com/go-sql-driver/mysql", "database/sql"}, []string{"github.com/go-sql-driver/mysql", "database/sql"}},
		{"transport imports gin and app", "transport/httpapi", []string{"net/http", "github.com/gin-gonic/gin", m + "app", m + "domain"}, nil},
		{"adapter imports another adapter", "adapters/ordercache", []string{m + "adapters/mysqlstore"}, []string{m + "adapters/mysqlstore"}},
		{"adapter imports transport", "adapters/mysqlstore", []string{m + "transport/httpapi"}, []string{m + "transport/httpapi"}},
		{"adapter imports a driver", "adapters/mysqlstore", []string{"database/sql", m + "domain"}, nil},
		{"cmd imports anything", "cmd/shop", []string{m + "adapters/mysqlstore", "database/sql"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, v := range check(tt.pkg, tt.imports) {
				got = append(got, v.Import)
			}
			require.Equal(t, tt.bad, got, "check(%s, %v): reported imports", tt.pkg, tt.imports)
		})
	}
}

func TestArchitectureOfThisChapter(t *testing.T) {
	pkgs := importsOf(t)
	for _, want := range []string{"domain/order", "app", "adapters/mysqlstore", "adapters/ordercache", "transport/httpapi"} {
		require.Contains(t, pkgs, want, "the architecture test found no package %s: is the embed list right?", want)
	}
	dirs := slices.Sorted(func(yield func(string) bool) {
		for d := range pkgs {
			if !yield(d) {
				return
			}
		}
	})
	for _, dir := range dirs {
		for _, v := range check(dir, pkgs[dir]) {
			t.Errorf("%s imports %s: %s", v.Pkg, v.Import, v.Rule)
		}
	}
}
