// Command matrix-summary reads the matrix.json of several runs (make stress)
// and prints, per path, how many runs gave which verdict and the spread of
// their times. A path whose runs disagree is a flake to pin down.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"etcd-upgrade-e2e/framework/report"
)

func main() {
	flag.Usage = func() { fmt.Fprintln(os.Stderr, "usage: matrix-summary MATRIX.json...") }
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	type stats struct {
		verdicts map[string]int
		expected string
		seconds  []float64
	}
	byPath := map[string]*stats{}
	for _, f := range flag.Args() {
		rows, err := report.Read(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", f, err)
			os.Exit(2)
		}
		for _, r := range rows {
			k := r.Provider + "\t" + r.Name
			s := byPath[k]
			if s == nil {
				s = &stats{verdicts: map[string]int{}, expected: r.Expected}
				byPath[k] = s
			}
			s.verdicts[r.Verdict]++
			s.seconds = append(s.seconds, r.Seconds)
		}
	}
	keys := make([]string, 0, len(byPath))
	for k := range byPath {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROVIDER\tPATH\tRUNS\tVERDICTS\tEXPECTED\tSECONDS min/median/max\tSTABLE")
	flaky := 0
	for _, k := range keys {
		s := byPath[k]
		var vs []string
		for v, n := range s.verdicts {
			vs = append(vs, fmt.Sprintf("%s×%d", v, n))
		}
		sort.Strings(vs)
		sort.Float64s(s.seconds)
		stable := "yes"
		if len(s.verdicts) != 1 || s.verdicts[s.expected] == 0 {
			stable = "NO"
			flaky++
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%.1f/%.1f/%.1f\t%s\n", k, len(s.seconds), strings.Join(vs, " "), s.expected,
			s.seconds[0], s.seconds[len(s.seconds)/2], s.seconds[len(s.seconds)-1], stable)
	}
	w.Flush()
	if flaky > 0 {
		fmt.Printf("%d path(s) did not give their expected verdict in every run\n", flaky)
		os.Exit(1)
	}
}
