// Package fscache holds the two rules every on-disk cache of the harness
// follows: one builder per entry at a time (an flock that also works across
// processes, e.g. ginkgo -p or two terminals), and atomic installs (an entry is
// built in a temporary directory next to its final place and renamed into it,
// so a killed build never leaves a half-written entry behind).
package fscache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive flock on path (created if needed), waiting until ctx
// is done. The returned function releases it. The kernel drops the lock when
// the process dies, so a killed builder never blocks the next one.
func Lock(ctx context.Context, path string) (func(), error) {
	unlock, _, err := LockAny(ctx, []string{path})
	return unlock, err
}

// LockAny takes the first free of paths' flocks, waiting until one is free
// or ctx is done: a counting semaphore across processes (e.g. at most N kind
// clusters at once on one host). It returns the index of the path it holds.
func LockAny(ctx context.Context, paths []string) (func(), int, error) {
	if len(paths) == 0 {
		return nil, -1, errors.New("LockAny: no lock paths")
	}
	files := make([]*os.File, len(paths))
	closeAll := func(keep int) {
		for i, f := range files {
			if f != nil && i != keep {
				_ = f.Close()
			}
		}
	}
	for i, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			closeAll(-1)
			return nil, -1, fmt.Errorf("creating lock dir: %w", err)
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			closeAll(-1)
			return nil, -1, fmt.Errorf("opening lock file: %w", err)
		}
		files[i] = f
	}
	for {
		for i, f := range files {
			err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err == nil {
				closeAll(i)
				return func() {
					_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
					_ = f.Close()
				}, i, nil
			}
			if !errors.Is(err, unix.EWOULDBLOCK) {
				closeAll(-1)
				return nil, -1, fmt.Errorf("locking %s: %w", paths[i], err)
			}
		}
		select {
		case <-ctx.Done():
			closeAll(-1)
			return nil, -1, fmt.Errorf("waiting for lock %s: %w", strings.Join(paths, " or "), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Install makes dir exist with the content that build writes. build receives a
// fresh temporary directory on the same file system; when it succeeds the
// directory is renamed to dir in one step. If dir already exists Install does
// nothing: callers check validity themselves and remove stale entries first.
// Callers hold the entry's Lock.
func Install(dir string, build func(tmp string) error) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("creating cache dir: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("creating temporary dir: %w", err)
	}
	defer os.RemoveAll(tmp) // no-op after a successful rename
	if err := build(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("installing %s: %w", dir, err)
	}
	return nil
}

// RemoveStaleTemps deletes temporary directories that killed builders left in
// parent. Only call it while holding the lock of every entry in parent, or
// with a pattern narrow enough to match one entry.
func RemoveStaleTemps(parent, entry string) {
	matches, _ := filepath.Glob(filepath.Join(parent, ".tmp-"+entry+"-*"))
	for _, m := range matches {
		_ = os.RemoveAll(m)
	}
}

// FileSHA256 is the hex SHA-256 of a file's content: what cache keys are
// made of when an entry depends on a file (a binary built into an image).
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CopyFile copies src's content to dst (created or truncated, with mode).
func CopyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
