package logtail

import "testing"

func TestLast(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb", 5, "a\nb"},
		{"", 3, ""},
		{"only\n\n", 1, "only"},
	} {
		if got := Last(tc.in, tc.n); got != tc.want {
			t.Errorf("Last(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
