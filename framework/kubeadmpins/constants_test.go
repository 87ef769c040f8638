package kubeadmpins

import (
	"archive/zip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/nodeimage/k8sbin"
)

// The fixture is shaped like kubeadm 1.33's constants.go: the default in a
// const block among others, the map in a var block, comments around them.
func TestParseConstants(t *testing.T) {
	src, err := os.ReadFile("testdata/constants.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConstants(src)
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultEtcdVersion != "3.5.24-0" || c.MinExternalEtcdVersion != "3.5.21-0" {
		t.Errorf("constants = %+v", c)
	}
	if got := c.Minors(); len(got) != 3 || got[0] != 31 || got[2] != 33 {
		t.Errorf("minors = %v", got)
	}
	if tag, listed := c.EtcdFor(33); tag != "3.5.24-0" || !listed {
		t.Errorf("EtcdFor(33) = %s, %v", tag, listed)
	}
	// A minor the map lacks gets the default, as kubeadm does (with a warning).
	if tag, listed := c.EtcdFor(34); tag != "3.5.24-0" || listed {
		t.Errorf("EtcdFor(34) = %s, %v", tag, listed)
	}
}

// Older and newer layouts: `var X = map...` on its own, the default in a
// one-line const.
func TestParseConstantsLayouts(t *testing.T) {
	src := `package constants

const DefaultEtcdVersion = "3.6.5-0"

// SupportedEtcdVersion lists officially supported etcd versions with corresponding Kubernetes releases
var SupportedEtcdVersion = map[uint8]string{
	32: "3.5.24-0",
	33: "3.5.24-0",
	34: "3.6.5-0",
}
`
	c, err := ParseConstants([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if tag, _ := c.EtcdFor(34); tag != "3.6.5-0" || c.DefaultEtcdVersion != "3.6.5-0" {
		t.Errorf("constants = %+v", c)
	}
}

func TestParseConstantsRefusesWhatItCannotRead(t *testing.T) {
	for name, src := range map[string]string{
		"no default":     "package c\nvar SupportedEtcdVersion = map[uint8]string{33: \"3.5.21-0\"}\n",
		"no map":         "package c\nconst DefaultEtcdVersion = \"3.5.21-0\"\n",
		"computed value": "package c\nconst DefaultEtcdVersion = base + \"-0\"\nvar SupportedEtcdVersion = map[uint8]string{33: \"3.5.21-0\"}\n",
		"computed key":   "package c\nconst DefaultEtcdVersion = \"3.5.21-0\"\nvar SupportedEtcdVersion = map[uint8]string{minor: \"3.5.21-0\"}\n",
		"not go":         "this is not go",
	} {
		if _, err := ParseConstants([]byte(src)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func TestEtcdRelease(t *testing.T) {
	for in, want := range map[string]string{"3.5.24-0": "3.5.24", "3.6.5-0": "3.6.5", "3.6.0-rc.3-0": "3.6.0-rc.3", "3.6.0-rc.3": "3.6.0-rc.3", "3.5.21": "3.5.21"} {
		if got := EtcdRelease(in); got != want {
			t.Errorf("EtcdRelease(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNotServed(t *testing.T) {
	// The proxy's own answer for a release it will not serve (measured 2026-11-30).
	refused := "go: k8s.io/kubernetes@v1.33.99: reading https://proxy.golang.org/k8s.io/kubernetes/@v/v1.33.99.info: 403 Forbidden\n\tserver response: This module version is not available."
	if !NotServed(refused) {
		t.Error("a refused version counted as a proxy failure")
	}
	if NotServed("dial tcp: lookup proxy.golang.org: no such host") {
		t.Error("a network failure counted as not served")
	}
}

func TestTrimTrailingMisses(t *testing.T) {
	v := func(p int) k8sbin.Version { return k8sbin.Version{Major: 1, Minor: 33, Patch: p} }
	as := []Availability{{Version: v(0), Served: true}, {Version: v(1)}, {Version: v(2), Served: true}, {Version: v(3)}, {Version: v(4)}}
	got := TrimTrailingMisses(as)
	if len(got) != 3 || got[2].Version.Patch != 2 {
		t.Errorf("TrimTrailingMisses = %+v: a gap stays, the tail goes", got)
	}
	if len(TrimTrailingMisses(as[1:2])) != 0 {
		t.Error("nothing served, something kept")
	}
}

func TestFromZip(t *testing.T) {
	src, _ := os.ReadFile("testdata/constants.go.txt")
	path := filepath.Join(t.TempDir(), "v1.33.13.zip")
	f, _ := os.Create(path)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("k8s.io/kubernetes@v1.33.13/" + ConstantsFile)
	w.Write(src)
	zw.Close()
	f.Close()
	got, err := fromZip(path, "k8s.io/kubernetes@v1.33.13/"+ConstantsFile)
	if err != nil || string(got) != string(src) {
		t.Fatalf("fromZip: %v", err)
	}
	if _, err := fromZip(path, "k8s.io/kubernetes@v1.33.13/nope.go"); err == nil {
		t.Error("a missing file read")
	}
}

// A cached pin answers without the go command: a second run downloads nothing.
func TestCachedPinNeedsNoDownload(t *testing.T) {
	dir := t.TempDir()
	v := k8sbin.Version{Major: 1, Minor: 33, Patch: 13}
	pin := Pin{Kubernetes: v.String(), Etcd: "3.5.24", Listed: true, Constants: Constants{DefaultEtcdVersion: "3.5.24-0", SupportedEtcdVersion: map[int]string{33: "3.5.24-0"}}}
	raw, _ := json.Marshal(cacheFile{Recipe: cacheVersion, Pin: pin})
	os.WriteFile(filepath.Join(dir, "v1.33.13.json"), raw, 0o644)
	r := NewReader(dir, WithGo("/nonexistent/go"))
	got, err := r.Get(context.Background(), v)
	if err != nil || !got.Cached || got.Etcd != "3.5.24" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	// An entry of another recipe is not trusted: it would be re-read.
	raw, _ = json.Marshal(cacheFile{Recipe: "pin/0", Pin: pin})
	os.WriteFile(filepath.Join(dir, "v1.33.13.json"), raw, 0o644)
	if _, err := r.Get(context.Background(), v); err == nil || !strings.Contains(err.Error(), "nonexistent") {
		t.Fatalf("an old recipe's entry was used: %v", err)
	}
}
