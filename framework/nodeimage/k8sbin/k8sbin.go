// Package k8sbin builds the Kubernetes programs a kind node needs (kubeadm,
// kubelet, kubectl and the three control-plane servers) from the Go module
// proxy, at exactly one release, and keeps them in the harness cache.
//
// The build happens in a generated module of its own: k8s.io/kubernetes
// replaces its ~30 staging modules with local directories, which a dependent
// module must replace by their published v0.X.Y versions. Building through the
// project's go.mod would drag those replaces and Kubernetes' pinned etcd and
// gRPC versions into the harness's own dependency graph.
package k8sbin

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coreos/go-semver/semver"
)

// recipe is bumped whenever the build below changes in a way that changes the
// binaries (flags, ldflags, program list), so that older cache entries are not
// taken for current ones.
const recipe = "k8sbin/1"

// Programs are the binaries one cache entry holds.
func Programs() []string {
	return []string{"kubeadm", "kubelet", "kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
}

// ServerPrograms are the programs that run as control-plane static pods.
func ServerPrograms() []string {
	return []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}
}

// Version is one Kubernetes release, e.g. v1.33.13.
type Version struct {
	Major, Minor, Patch int
}

// ParseVersion accepts "v1.33.13" or "1.33.13". Pre-releases are refused: the
// proxy serves them, but their staging modules are not published in step.
func ParseVersion(s string) (Version, error) {
	sv, err := semver.NewVersion(strings.TrimPrefix(s, "v"))
	if err != nil || sv.PreRelease != "" || sv.Metadata != "" {
		return Version{}, fmt.Errorf("malformed Kubernetes version %q: want vMAJOR.MINOR.PATCH such as v1.33.13", s)
	}
	v := Version{Major: int(sv.Major), Minor: int(sv.Minor), Patch: int(sv.Patch)}
	if v.Major != 1 {
		//lint:ignore ST1005 "Kubernetes" is a proper noun; worded like etcdbin's "etcd X is not supported".
		return Version{}, fmt.Errorf("Kubernetes %s is not supported: want 1.x", s)
	}
	return v, nil
}

// String gives v1.33.13.
func (v Version) String() string { return fmt.Sprintf("v%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Staging gives the version of the staging modules (k8s.io/api, ...) published
// with this release: v0.33.13 for v1.33.13.
func (v Version) Staging() string { return fmt.Sprintf("v0.%d.%d", v.Minor, v.Patch) }

// Set is one cache entry: the programs of one release.
type Set struct {
	Version Version
	Dir     string
	// Sums maps each program to its sha256, as recorded when it was built.
	Sums map[string]string
	// Source is "cache" or "build".
	Source string
}

// Path is the file of one program.
func (s Set) Path(program string) string { return filepath.Join(s.Dir, program) }

// Builder finds or builds Sets. The zero value is not usable; use New.
type Builder struct {
	cacheDir    string
	goBin       string
	log         io.Writer
	lockTimeout time.Duration
}

// Option configures a Builder.
type Option func(*Builder)

// WithCacheDir sets the directory that holds one subdirectory per release.
func WithCacheDir(dir string) Option { return func(b *Builder) { b.cacheDir = dir } }

// WithLog sets where progress lines go.
func WithLog(w io.Writer) Option { return func(b *Builder) { b.log = w } }

// WithGo sets the go command.
func WithGo(goBin string) Option { return func(b *Builder) { b.goBin = goBin } }

// New returns a Builder whose cache is dir (e.g. <harness cache>/k8s).
func New(cacheDir string, opts ...Option) *Builder {
	b := &Builder{cacheDir: cacheDir, goBin: "go", log: io.Discard, lockTimeout: 30 * time.Minute}
	for _, o := range opts {
		o(b)
	}
	return b
}

// CacheDir is where the builder keeps its entries.
func (b *Builder) CacheDir() string { return b.cacheDir }

func (b *Builder) logf(format string, args ...any) {
	fmt.Fprintf(b.log, format+"\n", args...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// contextErr prefers the context's error, which says why a command was killed.
func contextErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
