package process

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// copyDir copies a stopped member's data dir: regular files and directories,
// with their modes.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm()|0o700)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// liveCopy copies a running member's data dir: the db through the member's
// snapshot stream, then the WAL and .snap files.
func liveCopy(ctx context.Context, cli *clientv3.Client, src, dst string) error {
	snapDir := filepath.Join(dst, "member", "snap")
	if err := os.MkdirAll(snapDir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rc, err := cli.Snapshot(ctx)
	if err != nil {
		return fmt.Errorf("snapshot stream: %w", err)
	}
	defer rc.Close()
	db, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("reading snapshot stream: %w", err)
	}
	// etcd appends a sha256 of the db to the stream; bbolt files are whole
	// pages, so a 32-byte remainder is that hash.
	if len(db)%os.Getpagesize() == sha256.Size {
		db = db[:len(db)-sha256.Size]
	}
	if err := os.WriteFile(filepath.Join(snapDir, "db"), db, 0o600); err != nil {
		return err
	}
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		if rel == filepath.Join("member", "snap", "db") || !d.Type().IsRegular() || strings.HasSuffix(rel, ".tmp") {
			return nil
		}
		return copyFile(path, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if os.IsNotExist(err) {
		return nil // purged meanwhile
	}
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
