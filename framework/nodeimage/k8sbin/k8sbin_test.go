package k8sbin

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in, want, staging string
		bad               bool
	}{
		{in: "v1.33.13", want: "v1.33.13", staging: "v0.33.13"},
		{in: "1.34.2", want: "v1.34.2", staging: "v0.34.2"},
		{in: "v1.33", bad: true},
		{in: "v1.33.0-rc.1", bad: true},
		{in: "v2.0.0", bad: true},
	} {
		v, err := ParseVersion(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseVersion(%q) = %v, want an error", tc.in, v)
			}
			continue
		}
		if err != nil || v.String() != tc.want || v.Staging() != tc.staging {
			t.Errorf("ParseVersion(%q) = %v (staging %s), %v; want %s, %s", tc.in, v, v.Staging(), err, tc.want, tc.staging)
		}
	}
}

const sampleGoMod = `module k8s.io/kubernetes

go 1.24.0

godebug default=go1.24

require (
	github.com/blang/semver/v4 v4.0.0
	k8s.io/api v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/cri-client => ./staging/src/k8s.io/cri-client
	k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
)
`

func TestParseKubernetesGoMod(t *testing.T) {
	staging, directives, err := ParseKubernetesGoMod([]byte(sampleGoMod))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(staging, " "), "k8s.io/api k8s.io/apimachinery k8s.io/cri-client"; got != want {
		t.Errorf("staging = %s, want %s", got, want)
	}
	if got, want := strings.Join(directives, "|"), "go 1.24.0|godebug default=go1.24"; got != want {
		t.Errorf("directives = %s, want %s", got, want)
	}
	if _, _, err := ParseKubernetesGoMod([]byte("module x\n\ngo 1.22\n")); err == nil {
		t.Error("a go.mod without staging replaces was accepted")
	}
}

func TestGoModReplacesEveryStagingModule(t *testing.T) {
	v, _ := ParseVersion("v1.33.13")
	staging, directives, _ := ParseKubernetesGoMod([]byte(sampleGoMod))
	got := GoMod(v, staging, directives)
	for _, want := range []string{
		"module k8sbuild\n",
		"go 1.24.0\ngodebug default=go1.24\n",
		"require k8s.io/kubernetes v1.33.13\n",
		"\tk8s.io/api => k8s.io/api v0.33.13\n",
		"\tk8s.io/apimachinery => k8s.io/apimachinery v0.33.13\n",
		"\tk8s.io/cri-client => k8s.io/cri-client v0.33.13\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, got)
		}
	}
}

func TestToolsGoImportsEveryProgram(t *testing.T) {
	got := ToolsGo()
	if !strings.HasPrefix(got, "//go:build tools\n") {
		t.Errorf("tools.go is not behind the tools build tag:\n%s", got)
	}
	for _, p := range Programs() {
		if !strings.Contains(got, `"k8s.io/kubernetes/cmd/`+p+`"`) {
			t.Errorf("tools.go does not import %s", p)
		}
	}
}

func TestLDFlagsSetVersionForBothPackages(t *testing.T) {
	v, _ := ParseVersion("v1.34.2")
	got := LDFlags(v)
	for _, want := range []string{
		"-s -w",
		"-X k8s.io/component-base/version.gitVersion=v1.34.2",
		"-X k8s.io/client-go/pkg/version.gitVersion=v1.34.2",
		"-X k8s.io/component-base/version.gitMajor=1",
		"-X k8s.io/component-base/version.gitMinor=34",
		"-X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("ldflags lack %q: %s", want, got)
		}
	}
}

// writeEntry lays out a cache entry whose kubeadm is a script printing
// reported.
func writeEntry(t *testing.T, dir string, m manifest, reported string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range Programs() {
		content := "#!/bin/sh\nexit 0\n"
		if p == "kubeadm" {
			content = "#!/bin/sh\necho " + reported + "\n"
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, manifestFile), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func goodManifest(v Version) manifest {
	m := manifest{Recipe: recipe, Version: v.String(), Sums: map[string]string{}}
	for _, p := range Programs() {
		m.Sums[p] = "00"
	}
	return m
}

func TestCacheEntryRules(t *testing.T) {
	v, _ := ParseVersion("v1.33.13")
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		mutate   func(m *manifest)
		reported string
		drop     string
		ok       bool
	}{
		{name: "valid", reported: "v1.33.13", ok: true},
		{name: "old recipe", mutate: func(m *manifest) { m.Recipe = "k8sbin/0" }, reported: "v1.33.13"},
		{name: "other release", mutate: func(m *manifest) { m.Version = "v1.33.12" }, reported: "v1.33.13"},
		{name: "built without version ldflags", reported: "v0.0.0-master+$Format:%H$"},
		{name: "program missing", reported: "v1.33.13", drop: "kube-scheduler"},
		{name: "sum missing", mutate: func(m *manifest) { delete(m.Sums, "kubelet") }, reported: "v1.33.13"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			b := New(cache)
			m := goodManifest(v)
			if tc.mutate != nil {
				tc.mutate(&m)
			}
			writeEntry(t, b.entryDir(v), m, tc.reported)
			if tc.drop != "" {
				os.Remove(filepath.Join(b.entryDir(v), tc.drop))
			}
			s, ok := b.fromCache(ctx, v)
			if ok != tc.ok {
				t.Fatalf("fromCache ok = %v, want %v", ok, tc.ok)
			}
			if ok && (s.Source != "cache" || s.Path("kubeadm") != filepath.Join(cache, "v1.33.13", "kubeadm")) {
				t.Errorf("unexpected set %+v", s)
			}
		})
	}
}

func TestEntryWithoutManifestIsIncomplete(t *testing.T) {
	v, _ := ParseVersion("v1.33.13")
	b := New(t.TempDir())
	writeEntry(t, b.entryDir(v), goodManifest(v), "v1.33.13")
	os.Remove(filepath.Join(b.entryDir(v), manifestFile))
	if _, ok := b.fromCache(context.Background(), v); ok {
		t.Error("an entry without manifest.json (a killed build) was taken")
	}
}
