package kubeadmpins

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"etcd-upgrade-e2e/framework/fscache"
	"etcd-upgrade-e2e/framework/internal/logtail"
	"etcd-upgrade-e2e/framework/nodeimage/k8sbin"
)

// Module is the Go module kubeadm's source comes in.
const Module = "k8s.io/kubernetes"

// Pin is what one Kubernetes patch release's kubeadm says about etcd.
type Pin struct {
	Kubernetes string `json:"kubernetes"` // v1.33.13
	Constants
	// Etcd is the etcd release kubeadm deploys for this release's own
	// minor (SupportedEtcdVersion[minor], else DefaultEtcdVersion), without
	// the image revision: "3.5.24".
	Etcd string `json:"etcd"`
	// Listed says the minor had its own SupportedEtcdVersion entry.
	Listed bool `json:"listed"`
	// Source names where the pin was read: module@version and the file.
	Source string `json:"source"`
	// ModuleTime is when the proxy first saw the release.
	ModuleTime string `json:"moduleTime,omitempty"`
	// Cached says this answer came from the pin cache, not a download.
	Cached bool `json:"-"`
}

// Reader reads pins, from its cache or from the module. The zero value is
// not usable; use NewReader.
type Reader struct {
	cacheDir string
	goBin    string
	log      io.Writer
}

// Option configures a Reader.
type Option func(*Reader)

// WithLog sets where progress lines go.
func WithLog(w io.Writer) Option { return func(r *Reader) { r.log = w } }

// WithGo sets the go command.
func WithGo(goBin string) Option { return func(r *Reader) { r.goBin = goBin } }

// NewReader keeps its pins under cacheDir (e.g. <harness cache>/kubeadm-pins).
func NewReader(cacheDir string, opts ...Option) *Reader {
	r := &Reader{cacheDir: cacheDir, goBin: "go", log: io.Discard}
	for _, o := range opts {
		o(r)
	}
	return r
}

func (r *Reader) logf(format string, args ...any) { fmt.Fprintf(r.log, format+"\n", args...) }

// cacheVersion is bumped when Pin's meaning changes, so old files are re-read.
const cacheVersion = "pin/1"

type cacheFile struct {
	Recipe string `json:"recipe"`
	Pin    Pin    `json:"pin"`
}

func (r *Reader) cachePath(v k8sbin.Version) string {
	return filepath.Join(r.cacheDir, v.String()+".json")
}

// Get returns the pin of one Kubernetes release: from the cache, else by
// downloading the release's module (one at a time across processes: the
// module is large) and parsing its constants.go.
func (r *Reader) Get(ctx context.Context, v k8sbin.Version) (Pin, error) {
	if p, ok := r.fromCache(v); ok {
		return p, nil
	}
	unlock, err := fscache.Lock(ctx, filepath.Join(r.cacheDir, ".locks", "download.lock"))
	if err != nil {
		return Pin{}, err
	}
	defer unlock()
	if p, ok := r.fromCache(v); ok {
		return p, nil
	}
	start := time.Now()
	src, modTime, err := r.readConstants(ctx, v)
	if err != nil {
		return Pin{}, err
	}
	c, err := ParseConstants(src)
	if err != nil {
		return Pin{}, fmt.Errorf("kubernetes %s: %w", v, err)
	}
	p := Pin{Kubernetes: v.String(), Constants: c, Source: Module + "@" + v.String() + " " + ConstantsFile, ModuleTime: modTime}
	tag, listed := c.EtcdFor(v.Minor)
	p.Etcd, p.Listed = EtcdRelease(tag), listed
	raw, err := json.MarshalIndent(cacheFile{Recipe: cacheVersion, Pin: p}, "", "  ")
	if err != nil {
		return Pin{}, err
	}
	if err := os.MkdirAll(r.cacheDir, 0o755); err != nil {
		return Pin{}, err
	}
	tmp := r.cachePath(v) + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return Pin{}, err
	}
	if err := os.Rename(tmp, r.cachePath(v)); err != nil {
		return Pin{}, err
	}
	r.logf("kubernetes %s: kubeadm pins etcd %s (read from the module in %s)", v, p.Etcd, time.Since(start).Round(100*time.Millisecond))
	return p, nil
}

func (r *Reader) fromCache(v k8sbin.Version) (Pin, bool) {
	raw, err := os.ReadFile(r.cachePath(v))
	if err != nil {
		return Pin{}, false
	}
	var cf cacheFile
	if json.Unmarshal(raw, &cf) != nil || cf.Recipe != cacheVersion || cf.Pin.Kubernetes != v.String() || cf.Pin.Etcd == "" {
		return Pin{}, false
	}
	cf.Pin.Cached = true
	return cf.Pin, true
}

// downloadInfo is what `go mod download -json` says.
type downloadInfo struct {
	Version, Time, Zip, Dir, Error string
}

// readConstants returns constants.go of release v. A release already in the
// go command's module cache (a node image build puts it there) is read from
// there; any other is downloaded into a module cache of its own (the go
// command verifies it against the checksum database), read from its zip and
// removed again: the pin cache keeps what matters, a few hundred bytes
// instead of hundreds of megabytes per release.
func (r *Reader) readConstants(ctx context.Context, v k8sbin.Version) ([]byte, string, error) {
	if dir := r.goEnv(ctx, "GOMODCACHE"); dir != "" {
		extracted := filepath.Join(dir, Module+"@"+v.String(), ConstantsFile)
		if src, err := os.ReadFile(extracted); err == nil {
			r.logf("kubernetes %s: reading %s from the module cache", v, ConstantsFile)
			return src, "", nil
		}
	}
	tmp, err := os.MkdirTemp("", "kubeadmpins-")
	if err != nil {
		return nil, "", err
	}
	defer r.removeModCache(tmp)
	r.logf("kubernetes %s: downloading %s@%s from the Go module proxy (large, once: the pin is cached)", v, Module, v)
	start := time.Now()
	out, err := r.goCmd(ctx, tmp, []string{"GOMODCACHE=" + filepath.Join(tmp, "mod")}, "mod", "download", "-json", Module+"@"+v.String())
	var info downloadInfo
	if jerr := json.Unmarshal(out, &info); jerr != nil {
		return nil, "", fmt.Errorf("kubernetes %s: go mod download: %v\n%s", v, err, logtail.Last(string(out), 10))
	}
	if info.Error != "" {
		return nil, "", fmt.Errorf("kubernetes %s: %s", v, info.Error)
	}
	r.logf("kubernetes %s:   downloaded in %s", v, time.Since(start).Round(100*time.Millisecond))
	src, err := fromZip(info.Zip, Module+"@"+v.String()+"/"+ConstantsFile)
	if err != nil {
		return nil, "", fmt.Errorf("kubernetes %s: %w", v, err)
	}
	return src, info.Time, nil
}

// fromZip reads one file of a module zip.
func fromZip(zipPath, name string) ([]byte, error) {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	f, err := zr.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%s in %s: %w", name, filepath.Base(zipPath), err)
	}
	defer f.Close()
	return io.ReadAll(f)
}

// removeModCache removes a module cache of our own (its files are read-only).
func (r *Reader) removeModCache(dir string) {
	_, _ = r.goCmd(context.Background(), dir, []string{"GOMODCACHE=" + filepath.Join(dir, "mod")}, "clean", "-modcache")
	_ = os.RemoveAll(dir)
}

func (r *Reader) goEnv(ctx context.Context, name string) string {
	out, err := exec.CommandContext(ctx, r.goBin, "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func (r *Reader) goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GOWORK=off", "GO111MODULE=on")
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return stdout.Bytes(), ctx.Err()
	}
	if err != nil && stdout.Len() == 0 {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, logtail.Last(stderr.String(), 10))
	}
	return stdout.Bytes(), nil
}

// Availability says whether the proxy serves one Kubernetes release.
type Availability struct {
	Version k8sbin.Version
	Served  bool
	Why     string
}

// missesToStop is how many unserved patches in a row end the search for
// a minor's releases.
const missesToStop = 3

// Served asks the proxy, patch by patch from .0, which releases of a
// Kubernetes minor it serves (its version list is partial: each exact
// version is asked for), until missesToStop in a row are not served.
func (r *Reader) Served(ctx context.Context, minor int) ([]Availability, error) {
	var out []Availability
	misses := 0
	for patch := 0; misses < missesToStop && patch < 100; patch++ {
		v := k8sbin.Version{Major: 1, Minor: minor, Patch: patch}
		a, err := r.served(ctx, v)
		if err != nil {
			return out, err
		}
		out = append(out, a)
		if a.Served {
			misses = 0
		} else {
			misses++
		}
	}
	return TrimTrailingMisses(out), nil
}

// TrimTrailingMisses drops the unserved versions after the last served one:
// they are releases that do not exist yet, not gaps.
func TrimTrailingMisses(as []Availability) []Availability {
	last := -1
	for i, a := range as {
		if a.Served {
			last = i
		}
	}
	return as[:last+1]
}

func (r *Reader) served(ctx context.Context, v k8sbin.Version) (Availability, error) {
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	out, err := r.goCmd(ctx, os.TempDir(), nil, "list", "-m", "-json", Module+"@"+v.String())
	if ctx.Err() != nil {
		return Availability{}, fmt.Errorf("kubernetes %s: the Go module proxy did not answer in time", v)
	}
	var info struct{ Version, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil {
		if err != nil && NotServed(err.Error()) {
			return Availability{Version: v, Why: lastLine(err.Error())}, nil
		}
		return Availability{}, fmt.Errorf("kubernetes %s: asking the Go module proxy: %v", v, errors.Join(err, jerr))
	}
	if info.Error != "" {
		if NotServed(info.Error) {
			return Availability{Version: v, Why: info.Error}, nil
		}
		return Availability{}, fmt.Errorf("kubernetes %s: asking the Go module proxy: %s", v, info.Error)
	}
	return Availability{Version: v, Served: true}, nil
}

// NotServed says whether a go command error is the proxy refusing a
// version (it does not have it, or will not serve it), as opposed to the
// proxy not answering at all.
func NotServed(msg string) bool {
	for _, s := range []string{"403 Forbidden", "404 Not Found", "410 Gone", "not available", "unknown revision", "invalid version"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// All reads the pin of every release of the given minors the proxy
// serves, one download at a time.
func (r *Reader) All(ctx context.Context, minors ...int) ([]Pin, []Availability, error) {
	var pins []Pin
	var missing []Availability
	var errs []error
	for _, m := range minors {
		as, err := r.Served(ctx, m)
		if err != nil {
			return pins, missing, err
		}
		for _, a := range as {
			if !a.Served {
				missing = append(missing, a)
				continue
			}
			p, err := r.Get(ctx, a.Version)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			pins = append(pins, p)
		}
	}
	return pins, missing, errors.Join(errs...)
}
