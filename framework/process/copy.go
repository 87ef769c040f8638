package process

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/fscache"
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
		return fscache.CopyFile(path, target, info.Mode().Perm())
	})
}

// liveCopy copies a running member's data dir: the db through the member's
// snapshot stream, then the WAL and .snap files.
func liveCopy(ctx context.Context, cli *clientv3.Client, src, dst string) error {
	if err := cluster.SaveSnapshotDB(ctx, cli, dst); err != nil {
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

// copyFile copies one file of a running member; a file etcd purged
// meanwhile is skipped.
func copyFile(src, dst string) error {
	err := fscache.CopyFile(src, dst, 0o600)
	if os.IsNotExist(err) {
		if _, serr := os.Stat(src); os.IsNotExist(serr) {
			return nil // purged meanwhile
		}
	}
	return err
}
