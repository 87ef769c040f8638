package qualify

import (
	"context"
	"sync"
	"testing"

	"etcd-upgrade-e2e/framework/etcdbin"
)

func versions(t *testing.T, from, to string) []etcdbin.Version {
	vs, err := etcdbin.PatchRange(etcdbin.MustParseVersion(from), etcdbin.MustParseVersion(to))
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// fixedAt is an oracle whose risk stops at fix; other lists versions that
// fail another way; it records what was run.
// Bisect calls it from several goroutines when its width is above one.
func fixedAt(fix string, other map[string]Outcome, ran *[]string) Oracle {
	f := etcdbin.MustParseVersion(fix)
	var mu sync.Mutex
	return func(_ context.Context, v etcdbin.Version) Probe {
		mu.Lock()
		*ran = append(*ran, v.String())
		mu.Unlock()
		if o, ok := other[v.String()]; ok {
			return Probe{Version: v, Outcome: o}
		}
		if v.Less(f) {
			return Probe{Version: v, Outcome: Bad}
		}
		return Probe{Version: v, Outcome: Good}
	}
}

func TestBisectFindsTheBoundaryAndRunsBothSides(t *testing.T) {
	vs := versions(t, "3.5.15", "3.5.35")
	for _, fix := range []string{"3.5.16", "3.5.20", "3.5.24", "3.5.35"} {
		var ran []string
		b := Bisect(context.Background(), vs, fixedAt(fix, nil, &ran), 1)
		if b.FirstGood == nil || b.FirstGood.Version.String() != fix || b.LastBad == nil || b.LastBad.Version.Compare(etcdbin.MustParseVersion(fix)) >= 0 {
			t.Errorf("fix %s: %s", fix, b.Answer)
			continue
		}
		if b.LastBad.Version.Patch+1 != b.FirstGood.Version.Patch {
			t.Errorf("fix %s: boundary %s / %s not neighbours", fix, b.LastBad.Version, b.FirstGood.Version)
		}
		if ran[0] != "3.5.15" || ran[1] != "3.5.35" {
			t.Errorf("fix %s: ends not run first: %v", fix, ran)
		}
		if len(ran) > 7 {
			t.Errorf("fix %s: %d runs for 21 versions: %v", fix, len(ran), ran)
		}
		if !b.Monotone {
			t.Errorf("fix %s: not monotone", fix)
		}
	}
}

// Versions the proxy does not serve are not in vs: the neighbours are the
// served ones (3.5.25 and 3.5.27 around an unserved 3.5.26).
func TestBisectOverGaps(t *testing.T) {
	var vs []etcdbin.Version
	for _, v := range versions(t, "3.5.20", "3.5.31") {
		if p := v.Patch; p == 26 || (p >= 28 && p <= 30) {
			continue
		}
		vs = append(vs, v)
	}
	var ran []string
	b := Bisect(context.Background(), vs, fixedAt("3.5.26", nil, &ran), 2)
	if b.LastBad.Version.String() != "3.5.25" || b.FirstGood.Version.String() != "3.5.27" {
		t.Errorf("over the gap: %s", b.Answer)
	}
}

func TestBisectEdges(t *testing.T) {
	vs := versions(t, "3.5.20", "3.5.25")
	var ran []string
	b := Bisect(context.Background(), vs, fixedAt("3.5.15", nil, &ran), 1)
	if b.LastBad != nil || b.FirstGood == nil || len(ran) != 1 {
		t.Errorf("good from the start: %s, ran %v", b.Answer, ran)
	}
	ran = nil
	b = Bisect(context.Background(), vs, fixedAt("3.5.99", nil, &ran), 1)
	if b.FirstGood != nil || b.LastBad == nil || b.LastBad.Version.String() != "3.5.25" {
		t.Errorf("never fixed: %s", b.Answer)
	}
	ran = nil
	b = Bisect(context.Background(), vs, fixedAt("3.5.23", map[string]Outcome{"3.5.20": Unmeasured}, &ran), 1)
	if b.FirstGood != nil || b.LastBad != nil {
		t.Errorf("an unmeasured start gave an answer: %s", b.Answer)
	}
	if b := Bisect(context.Background(), nil, nil, 1); b.Answer == "" {
		t.Error("empty range gave no answer")
	}
}

func TestBisectOtherFailureIsNotGood(t *testing.T) {
	vs := versions(t, "3.5.20", "3.5.28")
	var ran []string
	b := Bisect(context.Background(), vs, fixedAt("3.5.22", map[string]Outcome{"3.5.24": Other}, &ran), 1)
	if b.Monotone {
		t.Error("another failure left the answer monotone")
	}
	if b.FirstGood == nil || b.FirstGood.Version.String() != "3.5.25" || b.LastBad.Outcome != Other {
		t.Errorf("other at 3.5.24: %s", b.Answer)
	}
}

// Wider rounds find the same boundary in fewer rounds; every width gives
// the same answer.
func TestBisectWidths(t *testing.T) {
	vs := versions(t, "3.5.15", "3.5.35")
	for _, width := range []int{1, 2, 3, 4} {
		for _, fix := range []string{"3.5.16", "3.5.20", "3.5.24", "3.5.35"} {
			var mu sync.Mutex
			var ran []string
			inner := fixedAt(fix, nil, &ran)
			b := Bisect(context.Background(), vs, func(ctx context.Context, v etcdbin.Version) Probe {
				mu.Lock()
				defer mu.Unlock()
				return inner(ctx, v)
			}, width)
			if b.FirstGood == nil || b.FirstGood.Version.String() != fix || b.LastBad == nil || b.LastBad.Version.Patch+1 != b.FirstGood.Version.Patch {
				t.Errorf("width %d, fix %s: %s", width, fix, b.Answer)
			}
		}
	}
}
