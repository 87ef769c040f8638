package workload

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	want := map[string]string{"/a": "1", "/b": "2", "/c": "3"}
	got := map[string]string{"/a": "1", "/b": "x", "/extra": "y"}
	d := Diff(want, got)
	exp := []string{`/b: "x", want "2"`, `/c: lost (want "3")`}
	if !reflect.DeepEqual(d, exp) {
		t.Fatalf("Diff = %q, want %q", d, exp)
	}
	if d := Diff(want, want); len(d) != 0 {
		t.Fatalf("identical maps differ: %q", d)
	}
}
