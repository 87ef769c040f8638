package etcdbin

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestProvisionRealVersion provisions a real etcd end to end through the
// default sources (cache, else tarball, else a Go module proxy build) and
// checks the binaries report it. It also checks that a version that does not
// exist is refused quickly by the module proxy check.
func TestProvisionRealVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("provisions a real etcd (a minute cold)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := NewProvisioner(WithLog(testWriter{t}))
	b, err := p.GetString(ctx, "3.5.21")
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ctx, b); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	again, err := p.GetString(ctx, "v3.5.21")
	if err != nil || again.Source != SourceCache {
		t.Fatalf("second call not a cache hit: %+v, %v", again, err)
	}
	t.Logf("warm provisioning took %s", time.Since(start))

	p = NewProvisioner(WithDownload(false), WithCacheDir(t.TempDir()))
	start = time.Now()
	_, err = p.GetString(ctx, "3.5.99")
	if err == nil || !strings.Contains(err.Error(), "etcd 3.5.99 does not exist") {
		t.Fatalf("3.5.99: want a does-not-exist error, got %v", err)
	}
	t.Logf("3.5.99 refused in %s: %v", time.Since(start), err)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
