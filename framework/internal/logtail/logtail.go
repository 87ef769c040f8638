// Package logtail keeps the end of a program's output, for errors that quote
// what the program said last.
package logtail

import "strings"

// Last returns the last n lines of s, without a trailing newline.
func Last(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
