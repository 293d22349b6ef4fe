package runtimedemo

import (
	"errors"
	"strings"
	"testing"
)

type notFoundError struct{ key string }

func (e *notFoundError) Error() string { return e.key + " not found" }

// find has the classic bug: it returns a typed nil pointer as an error.
func find(key string) error {
	var err *notFoundError // nil pointer
	if key == "missing" {
		err = &notFoundError{key: key}
	}
	return err // an interface holding (type *notFoundError, value nil): not a nil interface
}

// findFixed returns the untyped nil on success.
func findFixed(key string) error {
	if key == "missing" {
		return &notFoundError{key: key}
	}
	return nil
}

// docs/interview/interface.md: an interface value is nil only when both its type word and its data
// word are nil. A nil *T stored in an error has a type, so err != nil.
func TestNilInterfaceTrap(t *testing.T) {
	if err := find("present"); err == nil {
		t.Fatal("find(\"present\") == nil, want != nil: the interface holds the type *notFoundError with a nil pointer")
	}
	var target *notFoundError
	if err := find("present"); !errors.As(err, &target) || target != nil {
		t.Fatalf("errors.As(find(\"present\")) = %v, %v; want true and a nil *notFoundError inside", errors.As(err, &target), target)
	}
	if err := findFixed("present"); err != nil {
		t.Fatalf("findFixed(\"present\") = %v, want nil: return the literal nil, not a typed nil pointer", err)
	}
}

// docs/interview/interface.md: == on interfaces compares the dynamic types, then the values. If the
// dynamic type is not comparable (slice, map, func), the comparison compiles and panics at run time.
func TestInterfaceComparison(t *testing.T) {
	var a, b any = 1, int64(1)
	if a == b {
		t.Fatal("any(1) == any(int64(1)), want false: the dynamic types differ")
	}
	r := recoverFrom(func() {
		var x, y any = []int{1}, []int{1}
		_ = x == y
	})
	err, ok := r.(error)
	if !ok || !strings.Contains(err.Error(), "comparing uncomparable type []int") {
		t.Fatalf("comparing two interfaces holding []int recovered %v, want a runtime error \"comparing uncomparable type []int\"", r)
	}
}
