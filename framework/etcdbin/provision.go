// Package etcdbin provides real etcd and etcdctl binaries at exactly the
// version a scenario names. Sources, in order: a directory the user points at,
// the local cache, the official release tarball (when the network allows it)
// and a build from the Go module proxy. Every result is checked with
// `etcd --version`; a binary that reports another version is an error.
package etcdbin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"etcd-upgrade-e2e/framework/fscache"
)

// Binaries are the two programs of one etcd release.
type Binaries struct {
	Version Version
	Etcd    string
	Etcdctl string
	Source  string // "dir", "cache", "download" or "build"
}

// Source kinds, in the order the Provisioner tries them.
const (
	SourceDir      = "dir"
	SourceCache    = "cache"
	SourceDownload = "download"
	SourceBuild    = "build"
)

// Provisioner finds or makes etcd binaries. The zero value is not usable; use
// NewProvisioner.
type Provisioner struct {
	cacheDir     string
	binDir       string
	downloadURL  string
	download     bool
	build        bool
	goBin        string
	log          io.Writer
	lockTimeout  time.Duration
	checkVersion func(ctx context.Context, v Version) error

	// verified remembers binaries this process has run and found at their
	// version, by the etcd binary's path: every member start and upgrade
	// asks for its binaries, and running both each time was about 1000
	// executions and 80 CPU-seconds of a 51-path process matrix on 2 cores.
	mu       sync.Mutex
	verified map[string]fileStamp
}

// fileStamp tells whether both binaries are still the files once verified.
type fileStamp struct {
	version       string
	etcd, etcdctl os.FileInfo
}

// Option configures a Provisioner.
type Option func(*Provisioner)

// WithCacheDir sets where built and downloaded binaries are kept.
func WithCacheDir(dir string) Option { return func(p *Provisioner) { p.cacheDir = dir } }

// WithBinDir points at a directory holding binaries the user provides, laid
// out as DIR/<version>/etcd (version with or without v) or as an unpacked
// release tarball DIR/etcd-v<version>-linux-amd64/etcd.
func WithBinDir(dir string) Option { return func(p *Provisioner) { p.binDir = dir } }

// WithDownload enables or disables the release tarball source.
func WithDownload(on bool) Option { return func(p *Provisioner) { p.download = on } }

// WithDownloadURL sets the base URL of release tarballs.
func WithDownloadURL(u string) Option { return func(p *Provisioner) { p.downloadURL = u } }

// WithBuild enables or disables building from the Go module proxy.
func WithBuild(on bool) Option { return func(p *Provisioner) { p.build = on } }

// WithLog sets where progress lines go.
func WithLog(w io.Writer) Option { return func(p *Provisioner) { p.log = w } }

// WithGo sets the go command used for builds.
func WithGo(goBin string) Option { return func(p *Provisioner) { p.goBin = goBin } }

// DefaultCacheDir is $ETCD_UPGRADE_CACHE, else <user cache dir>/etcd-upgrade-e2e.
func DefaultCacheDir() string {
	if d := os.Getenv("ETCD_UPGRADE_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "etcd-upgrade-e2e")
}

// NewProvisioner reads its defaults from the environment: ETCD_BIN_DIR,
// ETCD_UPGRADE_CACHE, ETCD_DOWNLOAD (set to "never" to skip tarballs) and
// ETCD_DOWNLOAD_URL. Options override them.
func NewProvisioner(opts ...Option) *Provisioner {
	p := &Provisioner{
		cacheDir:    filepath.Join(DefaultCacheDir(), "etcd"),
		binDir:      os.Getenv("ETCD_BIN_DIR"),
		downloadURL: envOr("ETCD_DOWNLOAD_URL", "https://github.com/etcd-io/etcd/releases/download"),
		download:    os.Getenv("ETCD_DOWNLOAD") != "never",
		build:       true,
		goBin:       "go",
		log:         io.Discard,
		lockTimeout: 20 * time.Minute,
	}
	p.checkVersion = p.checkPublished
	for _, o := range opts {
		o(p)
	}
	return p
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// CacheDir is where this provisioner keeps binaries.
func (p *Provisioner) CacheDir() string { return p.cacheDir }

// GetString parses s and provisions that version.
func (p *Provisioner) GetString(ctx context.Context, s string) (Binaries, error) {
	v, err := ParseVersion(s)
	if err != nil {
		return Binaries{}, err
	}
	return p.Get(ctx, v)
}

// Get returns binaries of exactly version v, provisioning them if needed.
func (p *Provisioner) Get(ctx context.Context, v Version) (Binaries, error) {
	if p.binDir != "" {
		if b, ok, err := p.fromDir(ctx, v); err != nil || ok {
			return b, err
		}
	}
	if b, ok := p.fromCache(ctx, v); ok {
		return b, nil
	}

	// Slow path: one builder per version across processes.
	lockCtx, cancel := context.WithTimeout(ctx, p.lockTimeout)
	defer cancel()
	unlock, err := fscache.Lock(lockCtx, filepath.Join(p.cacheDir, ".locks", v.Tag()+".lock"))
	if err != nil {
		return Binaries{}, fmt.Errorf("etcd %s: %w", v, err)
	}
	defer unlock()
	if b, ok := p.fromCache(ctx, v); ok { // another process built it meanwhile
		return b, nil
	}
	fscache.RemoveStaleTemps(p.cacheDir, v.Tag())
	dir := p.entryDir(v)
	_ = os.RemoveAll(dir) // an entry that failed verification

	var errs []error
	if p.download {
		start := time.Now()
		p.logf("etcd %s: trying the release tarball from %s", v, p.downloadURL)
		err := fscache.Install(dir, func(tmp string) error { return p.downloadTo(ctx, v, tmp) })
		if err == nil {
			if b, err := p.verifyEntry(ctx, v, SourceDownload); err == nil {
				p.logf("etcd %s: downloaded and verified in %s", v, since(start))
				return b, nil
			} else {
				_ = os.RemoveAll(dir)
				errs = append(errs, err)
			}
		} else {
			p.logf("etcd %s: no release tarball (%v)", v, shortErr(err))
			errs = append(errs, fmt.Errorf("download: %w", err))
		}
	}
	if p.build {
		if err := p.checkVersion(ctx, v); err != nil {
			return Binaries{}, err
		}
		start := time.Now()
		p.logf("etcd %s: building etcd and etcdctl from the Go module proxy (about a minute cold on 2 cores)", v)
		err := fscache.Install(dir, func(tmp string) error { return p.buildTo(ctx, v, tmp) })
		if err != nil {
			return Binaries{}, fmt.Errorf("etcd %s: build from the Go module proxy failed: %w", v, err)
		}
		b, err := p.verifyEntry(ctx, v, SourceBuild)
		if err != nil {
			_ = os.RemoveAll(dir)
			return Binaries{}, err
		}
		p.logf("etcd %s: built and verified in %s", v, since(start))
		return b, nil
	}
	if len(errs) == 0 {
		errs = append(errs, errors.New("no source enabled"))
	}
	return Binaries{}, fmt.Errorf("etcd %s: no source could provide it: %w", v, errors.Join(errs...))
}

func (p *Provisioner) entryDir(v Version) string { return filepath.Join(p.cacheDir, v.Tag()) }

func (p *Provisioner) fromCache(ctx context.Context, v Version) (Binaries, bool) {
	dir := p.entryDir(v)
	if _, err := os.Stat(filepath.Join(dir, "etcd")); err != nil {
		return Binaries{}, false
	}
	b, err := p.verifyEntry(ctx, v, SourceCache)
	if err != nil {
		p.logf("etcd %s: ignoring cache entry %s: %v", v, dir, err)
		return Binaries{}, false
	}
	return b, true
}

func (p *Provisioner) verifyEntry(ctx context.Context, v Version, source string) (Binaries, error) {
	dir := p.entryDir(v)
	b := Binaries{Version: v, Etcd: filepath.Join(dir, "etcd"), Etcdctl: filepath.Join(dir, "etcdctl"), Source: source}
	return b, p.verify(ctx, b)
}

// verify is Verify, run once per process for the same files: a binary
// replaced since (another size, modification time or inode) is run again.
func (p *Provisioner) verify(ctx context.Context, b Binaries) error {
	st, err := stampOf(b)
	if err != nil {
		return Verify(ctx, b) // it reports what is missing
	}
	p.mu.Lock()
	old, ok := p.verified[b.Etcd]
	p.mu.Unlock()
	if ok && old.same(st) {
		return nil
	}
	if err := Verify(ctx, b); err != nil {
		return err
	}
	p.mu.Lock()
	if p.verified == nil {
		p.verified = map[string]fileStamp{}
	}
	p.verified[b.Etcd] = st
	p.mu.Unlock()
	return nil
}

func stampOf(b Binaries) (fileStamp, error) {
	e, err := os.Stat(b.Etcd)
	if err != nil {
		return fileStamp{}, err
	}
	c, err := os.Stat(b.Etcdctl)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{version: b.Version.String(), etcd: e, etcdctl: c}, nil
}

func (s fileStamp) same(o fileStamp) bool {
	return s.version == o.version && sameFile(s.etcd, o.etcd) && sameFile(s.etcdctl, o.etcdctl)
}

func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// fromDir looks for the version in the user's directory. A directory that has
// the version but whose binaries report another one is an error, not a miss.
func (p *Provisioner) fromDir(ctx context.Context, v Version) (Binaries, bool, error) {
	for _, sub := range []string{v.Tag(), v.String(), "etcd-" + v.Tag() + "-linux-amd64"} {
		dir := filepath.Join(p.binDir, sub)
		if _, err := os.Stat(filepath.Join(dir, "etcd")); err != nil {
			continue
		}
		b := Binaries{Version: v, Etcd: filepath.Join(dir, "etcd"), Etcdctl: filepath.Join(dir, "etcdctl"), Source: SourceDir}
		if err := p.verify(ctx, b); err != nil {
			return Binaries{}, false, fmt.Errorf("ETCD_BIN_DIR %s: %w", dir, err)
		}
		return b, true, nil
	}
	return Binaries{}, false, nil
}

// Verify runs both binaries with --version and compares the answer with b.Version.
func Verify(ctx context.Context, b Binaries) error {
	for _, bin := range []string{b.Etcd, b.Etcdctl} {
		arg := "version" // etcdctl's command; etcd takes a flag
		if bin == b.Etcd {
			arg = "--version"
		}
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		out, err := exec.CommandContext(ctx, bin, arg).CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("running %s: %w (%s)", bin, err, strings.TrimSpace(string(out)))
		}
		got, err := parseReported(string(out))
		if err != nil {
			return fmt.Errorf("%s: %w", bin, err)
		}
		if got != b.Version.String() {
			return fmt.Errorf("%s reports version %s, want %s", bin, got, b.Version)
		}
	}
	return nil
}

func (p *Provisioner) logf(format string, args ...any) {
	fmt.Fprintf(p.log, format+"\n", args...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
