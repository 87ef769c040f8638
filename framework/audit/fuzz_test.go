package audit_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/audit/audittest"

	"go.etcd.io/raft/v3/raftpb"
)

// fuzzTargets are the files FuzzAuditDamagedData damages, chosen by index.
var fuzzTargets = []string{"snap", "wal", "db"}

// fuzzBase writes the data dir every fuzz input starts from: a snapshot plus
// WAL entries of every kind the audit replays.
func fuzzBase(f *testing.F) (dir string, files map[string]string) {
	dir = f.TempDir()
	err := audittest.Write(dir, audittest.Spec{
		LocalID: m1.ID, ClusterID: 0xc1,
		V3Members: []audittest.Member{m1, learner(m2)}, V3ClusterVersion: "3.5.0",
		Snapshot: true, SnapIndex: 4, SnapMembers: []audittest.Member{m1}, SnapClusterVersion: "3.5.0",
		Entries: []raftpb.Entry{
			audittest.AddMember(learner(m2)),
			audittest.SetAttributesV3(m2.ID, m2.Name, m2.ClientURLs...),
			audittest.SetAttributesV2(m1.ID, m1.Name, m1.ClientURLs...),
			audittest.Promote(m2),
			audittest.SetClusterVersion("3.5.0"),
			audittest.Put("k", "v"),
		},
	})
	if err != nil {
		f.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "member", "snap", "*.snap"))
	wals, _ := filepath.Glob(filepath.Join(dir, "member", "wal", "*.wal"))
	if len(snaps) != 1 || len(wals) != 1 {
		f.Fatalf("base dir: snaps %v wals %v", snaps, wals)
	}
	return dir, map[string]string{"snap": snaps[0], "wal": wals[0], "db": filepath.Join(dir, "member", "snap", "db")}
}

// FuzzAuditDamagedData damages one file of a valid data dir (overwrites
// bytes at an offset, optionally truncates) and requires Audit to return a
// report or a typed error, never panic. Run with
// go test -fuzz FuzzAuditDamagedData ./framework/audit/
func FuzzAuditDamagedData(f *testing.F) {
	base, files := fuzzBase(f)
	orig := map[string][]byte{}
	for name, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		orig[name] = b
	}
	for i, name := range fuzzTargets {
		n := uint32(len(orig[name]))
		f.Add(uint8(i), uint32(0), []byte{}, uint32(0))               // unchanged
		f.Add(uint8(i), uint32(0), []byte{}, n/2)                     // truncated
		f.Add(uint8(i), uint32(0), []byte{}, uint32(1))               // one byte left
		f.Add(uint8(i), n/2, []byte{0xff, 0x00, 0x13}, uint32(0))     // flipped in the middle
		f.Add(uint8(i), uint32(0), []byte("garbage here"), uint32(0)) // bad header
		f.Add(uint8(i), n-8, []byte{0xde, 0xad, 0xbe, 0xef}, uint32(0))
	}
	f.Add(uint8(2), uint32(4096), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, uint32(0)) // second meta page
	f.Add(uint8(2), uint32(16384), []byte{0x01, 0x02, 0x03, 0x04, 0x05, 0x06}, uint32(0))            // a data page

	f.Fuzz(func(t *testing.T, target uint8, off uint32, patch []byte, truncate uint32) {
		name := fuzzTargets[int(target)%len(fuzzTargets)]
		b := append([]byte(nil), orig[name]...)
		if len(b) > 0 {
			at := int(off % uint32(len(b)))
			b = append(b[:at], append(patch, b[min(at+len(patch), len(b)):]...)...)
		}
		if truncate > 0 && len(b) > 0 {
			b = b[:int(truncate%uint32(len(b)))]
		}
		dir := t.TempDir()
		copyTree(t, base, dir)
		rel, _ := filepath.Rel(base, files[name])
		if err := os.WriteFile(filepath.Join(dir, rel), b, 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := audit.Audit(dir)
		switch {
		case err != nil:
			if !errors.Is(err, audit.ErrUnreadable) {
				t.Fatalf("damaged %s: error is not ErrUnreadable: %v", name, err)
			}
		case r == nil || r.Verdict == "":
			t.Fatalf("damaged %s: no error and no verdict", name)
		}
	})
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}
