package report

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestWriteAndRead(t *testing.T) {
	dir := t.TempDir()
	rows := []Row{
		{Name: "b", Provider: "process", Path: []string{"3.5.21", "3.6.5"}, Strategy: "replace", Verdict: "consistent", Expected: "consistent", AsExpected: true, Seconds: 12.5},
		{Name: "a", Provider: "process", Path: []string{"3.5.17", "3.6.5"}, Strategy: "replace", Verdict: "upgrade-failed", Expected: "upgrade-failed", AsExpected: true,
			FailedStep: "hop 1: join", Evidence: []string{"join cp4: not serving", `cp4 log: {"level":"error","msg":"Validation failed","error":"membership: too many | learners"}`}},
	}
	if err := Write(dir, rows); err != nil {
		t.Fatal(err)
	}
	got, err := Read(filepath.Join(dir, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "a" || !reflect.DeepEqual(got[0].Path, []string{"3.5.17", "3.6.5"}) {
		t.Fatalf("round trip: %+v", got)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "matrix.md"))
	for _, want := range []string{"| a | 3.5.17 → 3.6.5 | process | replace | upgrade-failed | upgrade-failed |", `cp4: Validation failed: membership: too many \| learners`} {
		if !strings.Contains(string(md), want) {
			t.Errorf("matrix.md lacks %q:\n%s", want, md)
		}
	}
}

func TestMarkdownMarksMismatch(t *testing.T) {
	md := Markdown([]Row{
		{Path: []string{"3.5.17", "3.6.5"}, Verdict: "consistent", Expected: "upgrade-failed"},
		// The expected verdict, for another reason: no signature matched.
		{Path: []string{"3.5.17", "3.6.16"}, Verdict: "upgrade-failed", Expected: "upgrade-failed"},
	})
	if !strings.Contains(md, "consistent ✗") || !strings.Contains(md, "upgrade-failed ✗") {
		t.Fatalf("mismatch not marked:\n%s", md)
	}
}

func TestMergeKeepsEarlierSuitesRows(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, []Row{{Name: "a", Provider: "process", Verdict: "consistent"}, {Name: "b", Provider: "process", Verdict: "consistent"}}); err != nil {
		t.Fatal(err)
	}
	if err := Merge(dir, []Row{{Name: "a", Provider: "kind", Verdict: "consistent"}, {Name: "b", Provider: "process", Verdict: "inconsistent"}}); err != nil {
		t.Fatal(err)
	}
	got, err := Read(filepath.Join(dir, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range got {
		keys = append(keys, r.Provider+"/"+r.Name+"="+r.Verdict)
	}
	if want := []string{"kind/a=consistent", "process/a=consistent", "process/b=inconsistent"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("merged matrix %v, want %v", keys, want)
	}
}

func TestMarkdownShowsTheClustersLine(t *testing.T) {
	md := Markdown([]Row{
		{Name: "f", Verdict: "upgrade-failed", Expected: "upgrade-failed", AsExpected: true,
			Evidence:   []string{"hop 1: join cp6: kubeadm join failed; cp4 log: {...}"},
			LineSource: "cp4 log", Line: `{"level":"fatal","msg":"discovery failed","error":"membership: too many learner members in cluster"}`},
		{Name: "h", Verdict: "harness-error", Expected: "consistent", Cause: "no member and no etcd answer says why"},
	})
	for _, want := range []string{"cp4 log: discovery failed: membership: too many learner members in cluster", "harness error: no member and no etcd answer says why"} {
		if !strings.Contains(md, want) {
			t.Errorf("matrix.md lacks %q:\n%s", want, md)
		}
	}
}
