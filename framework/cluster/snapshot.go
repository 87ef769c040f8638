package cluster

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// bboltPageSize is the page size of etcd's db files on the platforms the
// harness runs on; a db is a whole number of pages.
const bboltPageSize = 4096

// SaveSnapshotDB writes the member's db, read through its own snapshot stream
// (a consistent bbolt read transaction), to dataDir/member/snap/db. It is how
// both providers copy a running member's data without restarting it.
func SaveSnapshotDB(ctx context.Context, cli *clientv3.Client, dataDir string) error {
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
	dir := filepath.Join(dataDir, "member", "snap")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "db"), StripSnapshotHash(db), 0o600)
}

// StripSnapshotHash removes the sha256 etcd appends to a snapshot stream:
// a db is whole pages, so a 32-byte remainder is that hash.
func StripSnapshotHash(db []byte) []byte {
	if len(db)%bboltPageSize == sha256.Size {
		return db[:len(db)-sha256.Size]
	}
	return db
}
