package process

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCapLog(t *testing.T) {
	dir := t.TempDir()
	if err := capLog(filepath.Join(dir, "missing.log"), 10); err != nil {
		t.Errorf("capLog of a missing file: %v", err)
	}

	small := filepath.Join(dir, "small.log")
	if err := os.WriteFile(small, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := capLog(small, 10); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(small); string(b) != "0123456789" {
		t.Errorf("a file within the limit changed: %q", b)
	}

	big := filepath.Join(dir, "big.log")
	content := "HEAD" + strings.Repeat(".", 1000) + "TAIL"
	if err := os.WriteFile(big, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := capLog(big, 100); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(big)
	if err != nil {
		t.Fatal(err)
	}
	want := content[:50] + "\n# ... 908 bytes cut by the harness ...\n" + content[len(content)-50:]
	if string(b) != want {
		t.Errorf("capped log:\n got %q\nwant %q", b, want)
	}
	if _, err := os.Stat(big + ".cap"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestCopyDir(t *testing.T) {
	src := filepath.Join(t.TempDir(), "data")
	files := map[string]string{
		"member/wal/0000000000000000-0000000000000000.wal": "wal",
		"member/snap/db": "db",
		"member/snap/0000000000000002-0000000000000010.snap": "snap",
	}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "member", "link")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyDir(src, dst); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		p := filepath.Join(dst, name)
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, []byte(body)) {
			t.Errorf("%s: %q, %v", name, b, err)
		}
		if st, err := os.Stat(p); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "member", "link")); !os.IsNotExist(err) {
		t.Errorf("a symlink was copied: %v", err)
	}
}

func TestCopyFileOfAPurgedFile(t *testing.T) {
	dir := t.TempDir()
	if err := copyFile(filepath.Join(dir, "gone.snap"), filepath.Join(dir, "out")); err != nil {
		t.Errorf("copyFile of a purged file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Errorf("copyFile of a purged file created its target: %v", err)
	}
}
