package etcdbin

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct{ in, want, err string }{
		{"3.5.17", "3.5.17", ""},
		{"v3.6.4", "3.6.4", ""},
		{"3.6.0-rc.3", "3.6.0-rc.3", ""},
		{"banana", "", `malformed etcd version "banana"`},
		{"3.5", "", "malformed"},
		{"3.5.17.1", "", "malformed"},
		{"3.4.30", "", "etcd 3.4.30 is not supported"},
		{"3.7.0", "3.7.0", ""},
		{"3.8.0", "", "etcd 3.8.0 is not supported"},
		{"4.0.0", "", "not supported"},
	} {
		v, err := ParseVersion(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseVersion(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || v.String() != tc.want || v.Tag() != "v"+tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %s", tc.in, v, err, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	order := []string{"3.5.9", "3.5.17", "3.5.21", "3.6.0-alpha.0", "3.6.0-rc.3", "3.6.0", "3.6.5", "3.6.16"}
	for i := range order {
		for j := range order {
			a, b := MustParseVersion(order[i]), MustParseVersion(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%s.Compare(%s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestParseReported(t *testing.T) {
	for _, out := range []string{
		"etcd Version: 3.5.17\nGit SHA: Not provided\nGo Version: go1.26\n",
		"etcdctl version: 3.5.17\nAPI version: 3.5\n",
	} {
		if v, err := parseReported(out); err != nil || v != "3.5.17" {
			t.Errorf("parseReported(%q) = %q, %v", out, v, err)
		}
	}
	if _, err := parseReported("garbage"); err == nil {
		t.Error("garbage parsed")
	}
}

func TestGoModPinsEtcdutlWhenTheProxyLacksIt(t *testing.T) {
	v := MustParseVersion("3.5.24")
	mod := goModFor(v, "v3.5.21")
	for _, want := range []string{"go.etcd.io/etcd/server/v3 v3.5.24", "go.etcd.io/etcd/etcdctl/v3 v3.5.24", "replace go.etcd.io/etcd/etcdutl/v3 v3.5.24 => go.etcd.io/etcd/etcdutl/v3 v3.5.21"} {
		if !strings.Contains(mod, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, mod)
		}
	}
	if strings.Contains(goModFor(MustParseVersion("3.5.21"), "v3.5.21"), "replace") {
		t.Error("replace written when the release's own etcdutl is served")
	}
}

// fakeBinaries writes shell scripts that answer --version like etcd would.
func fakeBinaries(t *testing.T, dir, reported string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, line string) {
		script := "#!/bin/sh\necho '" + line + "'\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("etcd", "etcd Version: "+reported)
	write("etcdctl", "etcdctl version: "+reported)
}

// offline is a provisioner that must not build or download anything.
func offline(t *testing.T, opts ...Option) *Provisioner {
	base := []Option{WithCacheDir(t.TempDir()), WithDownload(false), WithBuild(false)}
	return NewProvisioner(append(base, opts...)...)
}

func TestSourceOrder(t *testing.T) {
	ctx := context.Background()
	v := MustParseVersion("3.5.17")

	userDir := t.TempDir()
	fakeBinaries(t, filepath.Join(userDir, "v3.5.17"), "3.5.17")
	p := offline(t, WithBinDir(userDir))
	fakeBinaries(t, filepath.Join(p.CacheDir(), "v3.5.17"), "3.5.17")
	b, err := p.Get(ctx, v)
	if err != nil || b.Source != SourceDir {
		t.Fatalf("user dir not preferred: %+v, %v", b, err)
	}

	// Without the user's dir, the cache answers.
	p2 := offline(t)
	fakeBinaries(t, filepath.Join(p2.CacheDir(), "v3.5.17"), "3.5.17")
	if b, err := p2.Get(ctx, v); err != nil || b.Source != SourceCache {
		t.Fatalf("cache not used: %+v, %v", b, err)
	}

	// Nothing anywhere, no source enabled: a clear error.
	if _, err := offline(t).Get(ctx, v); err == nil || !strings.Contains(err.Error(), "no source could provide it") {
		t.Fatalf("want no-source error, got %v", err)
	}
}

func TestWrongVersionIsAnError(t *testing.T) {
	userDir := t.TempDir()
	fakeBinaries(t, filepath.Join(userDir, "3.5.17"), "3.5.16")
	_, err := offline(t, WithBinDir(userDir)).Get(context.Background(), MustParseVersion("3.5.17"))
	if err == nil || !strings.Contains(err.Error(), "reports version 3.5.16, want 3.5.17") {
		t.Fatalf("want version mismatch error, got %v", err)
	}
	// A cache entry reporting another version is ignored, not used.
	p := offline(t)
	fakeBinaries(t, filepath.Join(p.CacheDir(), "v3.5.17"), "3.5.16")
	if b, err := p.Get(context.Background(), MustParseVersion("3.5.17")); err == nil {
		t.Fatalf("stale cache entry used: %+v", b)
	}
}

// TestDownloadVerifiesChecksum serves a release tarball from a local server.
func TestDownloadVerifiesChecksum(t *testing.T) {
	v := MustParseVersion("3.5.17")
	tgz := releaseTarball(t, v)
	sum := sha256.Sum256(tgz)
	good := hex.EncodeToString(sum[:]) + "  " + tarballName(v) + "\n"
	for _, tc := range []struct {
		name, sums, wantErr string
	}{
		{"good", good, ""},
		{"bad checksum", strings.Repeat("0", 64) + "  " + tarballName(v) + "\n", "does not match SHA256SUMS"},
		{"not listed", "abc  other.tar.gz\n", "SHA256SUMS has no entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/" + v.Tag() + "/SHA256SUMS":
					fmt.Fprint(w, tc.sums)
				case "/" + v.Tag() + "/" + tarballName(v):
					w.Write(tgz)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			p := NewProvisioner(WithCacheDir(t.TempDir()), WithDownload(true), WithDownloadURL(srv.URL), WithBuild(false))
			b, err := p.Get(context.Background(), v)
			if tc.wantErr == "" {
				if err != nil || b.Source != SourceDownload {
					t.Fatalf("download failed: %+v, %v", b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want %q, got %v", tc.wantErr, err)
			}
			if _, statErr := os.Stat(filepath.Join(p.CacheDir(), v.Tag())); !os.IsNotExist(statErr) {
				t.Fatal("a rejected download left a cache entry")
			}
		})
	}
}

func releaseTarball(t *testing.T, v Version) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range []string{"etcd", "etcdctl"} {
		line := "etcd Version: " + v.String()
		if name == "etcdctl" {
			line = "etcdctl version: " + v.String()
		}
		body := []byte("#!/bin/sh\necho '" + line + "'\n")
		hdr := &tar.Header{Name: "etcd-" + v.Tag() + "-linux-amd64/" + name, Mode: 0o755, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Now()}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestMalformedVersionFailsBeforeAnything(t *testing.T) {
	p := offline(t)
	start := time.Now()
	if _, err := p.GetString(context.Background(), "banana"); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("got %v", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("bad input was not refused at once")
	}
	entries, _ := os.ReadDir(p.CacheDir())
	if len(entries) != 0 {
		t.Fatalf("bad input wrote %v", entries)
	}
}

// TestVerifiedOncePerProcess: a member start asks for its binaries each
// time; they are run once, and again only when a file was replaced.
func TestVerifiedOncePerProcess(t *testing.T) {
	ctx := context.Background()
	p := offline(t)
	dir := filepath.Join(p.CacheDir(), "v3.5.17")
	runs := filepath.Join(t.TempDir(), "runs")
	counting := func(name, line string) {
		script := "#!/bin/sh\necho " + name + " >> '" + runs + "'\necho '" + line + "'\n"
		if err := os.WriteFile(filepath.Join(dir, name+".new"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		// Replaced as an installer does: a new file, renamed over the old.
		if err := os.Rename(filepath.Join(dir, name+".new"), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	counting("etcd", "etcd Version: 3.5.17")
	counting("etcdctl", "etcdctl version: 3.5.17")
	count := func() int {
		b, _ := os.ReadFile(runs)
		return strings.Count(string(b), "\n")
	}
	for i := 0; i < 3; i++ {
		if _, err := p.Get(ctx, MustParseVersion("3.5.17")); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 2 {
		t.Fatalf("three Gets ran the binaries %d times, want 2 (each once)", n)
	}
	// A replaced binary is verified again, and a wrong one refused.
	counting("etcd", "etcd Version: 3.5.16")
	if b, err := p.Get(ctx, MustParseVersion("3.5.17")); err == nil {
		t.Fatalf("replaced binary reporting 3.5.16 used: %+v", b)
	}
	if n := count(); n < 3 {
		t.Fatalf("the replaced binary was not run again (%d runs)", n)
	}
}
