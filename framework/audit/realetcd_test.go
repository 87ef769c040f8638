package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/etcdbin"
)

// TestAuditRealDataDir audits the data dir of a real etcd 3.5.17 member: the
// audit must change no byte of it, see one consistent voter and cluster
// version 3.5.0, and refuse with ErrDBLocked while the member runs.
func TestAuditRealDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd 3.5.17 member (binary from etcdbin); skipped with -short")
	}
	// A cold build takes about a minute alone, longer while other packages build.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bins, err := etcdbin.NewProvisioner(etcdbin.WithLog(os.Stderr)).GetString(ctx, "3.5.17")
	if err != nil {
		t.Fatalf("provision etcd 3.5.17: %v", err)
	}

	m := newEtcdMember(t, bins.Etcd)
	m.start(t)
	for i := range 20 { // --snapshot-count=5: a .snap follows after a few writes
		m.put(t, fmt.Sprintf("key-%d", i), "value")
	}
	m.waitFor(t, "a .snap file", func() bool {
		names, _ := filepath.Glob(filepath.Join(m.dataDir, "member", "snap", "*.snap"))
		return len(names) > 0
	})
	m.stop(t)

	before := checksums(t, m.dataDir)
	r, err := audit.Audit(m.dataDir)
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	after := checksums(t, m.dataDir)
	if !equalMaps(before, after) {
		t.Errorf("audit changed the data dir:\nbefore %v\nafter  %v", before, after)
	}

	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("audit of a real 3.5.17 data dir:\n%s", &table)
	if r.Verdict != audit.VerdictConsistent {
		t.Errorf("verdict %s, diffs %v", r.Verdict, r.Diffs)
	}
	for _, d := range r.Diffs {
		// 3.5.17 never writes the member's published client URLs to the
		// v3store; that difference is informational.
		if d.Kind.AffectsVerdict() {
			t.Errorf("unexpected difference %s", d)
		}
	}
	if len(r.V2Members) != 1 || len(r.V3Members) != 1 {
		t.Fatalf("members v2store %+v v3store %+v, want one each", r.V2Members, r.V3Members)
	}
	for _, mem := range []audit.Member{r.V2Members[0], r.V3Members[0]} {
		if mem.ID != r.LocalID || mem.Name != m.name || mem.IsLearner || len(mem.PeerURLs) != 1 || mem.PeerURLs[0] != m.peerURL {
			t.Errorf("member %+v, want voter %s (%s) %s", mem, r.LocalID, m.name, m.peerURL)
		}
	}
	if r.Versions.ClusterV2 != "3.5.0" || r.Versions.ClusterV3 != "3.5.0" || r.Versions.Storage != "" {
		t.Errorf("versions %+v, want cluster 3.5.0 in both stores and no storage version", r.Versions)
	}
	if r.Source.Snapshot == "" {
		t.Errorf("no snapshot used: %+v", r.Source)
	}

	t.Run("running member", func(t *testing.T) {
		m.start(t)
		defer m.stop(t)
		start := time.Now()
		_, err := audit.Audit(m.dataDir)
		if !errors.Is(err, audit.ErrDBLocked) || !strings.Contains(err.Error(), "is the member still running") {
			t.Fatalf("audit of a running member: %v, want ErrDBLocked", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("locked audit took %s", d)
		}
	})
}

// TestAuditRealDataDir37 audits the data dir of a real etcd 3.7.3 member:
// its storage version is 3.7, so the audit says it keeps no v2store instead
// of judging a v2store, and still compares the v2-format copy 3.7 writes
// into its .snap files from the v3store (measured on 3.7.3).
func TestAuditRealDataDir37(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real etcd 3.7.3 member (binary from etcdbin); skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	bins, err := etcdbin.NewProvisioner(etcdbin.WithLog(os.Stderr)).GetString(ctx, "3.7.3")
	if err != nil {
		t.Fatalf("provision etcd 3.7.3: %v", err)
	}
	m := newEtcdMemberAt(t, bins.Etcd, "3.7")
	m.start(t)
	for i := range 20 {
		m.put(t, fmt.Sprintf("key-%d", i), "value")
	}
	m.waitFor(t, "a .snap file", func() bool {
		names, _ := filepath.Glob(filepath.Join(m.dataDir, "member", "snap", "*.snap"))
		return len(names) > 0
	})
	m.stop(t)

	r, err := audit.Audit(m.dataDir)
	if err != nil {
		t.Fatalf("Audit of a 3.7 data dir: %v", err)
	}
	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("audit of a real 3.7.3 data dir:\n%s", &table)
	if r.Verdict != audit.VerdictNoV2Store || !r.Verdict.Sound() {
		t.Errorf("verdict %s, want %s; diffs %v", r.Verdict, audit.VerdictNoV2Store, r.Diffs)
	}
	if !strings.Contains(r.NoV2Store, "no v2store (etcd 3.7)") || !strings.Contains(table.String(), "no v2store (etcd 3.7)") {
		t.Errorf("the report does not say the data dir has no v2store: %q", r.NoV2Store)
	}
	if r.Versions.Storage != "3.7.0" || len(r.V3Members) != 1 || r.V3Members[0].ID != r.LocalID {
		t.Errorf("versions %+v, v3store members %+v", r.Versions, r.V3Members)
	}
	// The copy 3.7 wrote from its v3store was read and compared.
	if r.Source.Snapshot == "" || len(r.V2Members) != 1 {
		t.Errorf("no v2-format copy read: source %+v, members %+v", r.Source, r.V2Members)
	}
}

// etcdMember is one real single-member etcd on loopback ports.
type etcdMember struct {
	bin, name, dataDir, logPath string
	clientURL, peerURL          string
	minor                       string // "3.5": the cluster version it serves at
	cmd                         *exec.Cmd
	exited                      chan struct{}
}

func newEtcdMember(t *testing.T, bin string) *etcdMember {
	return newEtcdMemberAt(t, bin, "3.5")
}

func newEtcdMemberAt(t *testing.T, bin, minor string) *etcdMember {
	m := &etcdMember{
		minor:     minor,
		bin:       bin,
		name:      "audit-test",
		dataDir:   t.TempDir(),
		logPath:   filepath.Join(t.TempDir(), "etcd.log"),
		clientURL: "http://" + freeLoopbackAddr(t),
		peerURL:   "http://" + freeLoopbackAddr(t),
	}
	t.Cleanup(m.kill)
	return m
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func (m *etcdMember) start(t *testing.T) {
	t.Helper()
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	m.cmd = exec.Command(m.bin,
		"--name", m.name,
		"--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster", m.name+"="+m.peerURL,
		"--snapshot-count", "5",
	)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	m.exited = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(m.cmd, m.exited)
	// Ready once the cluster version is decided (and, from etcd 3.6 on, the
	// storage version written): the audit checks them.
	want := m.minor + ".0"
	m.waitFor(t, "etcd to serve with cluster version "+want, func() bool {
		var v struct{ Etcdcluster, Storage string }
		return m.getJSON("/version", &v) == nil && v.Etcdcluster == want && (m.minor == "3.5" || v.Storage == want)
	})
}

func (m *etcdMember) waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		select {
		case <-m.exited:
			t.Fatalf("etcd exited while waiting for %s; log:\n%s", what, m.logTail())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; log:\n%s", what, m.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func (m *etcdMember) getJSON(path string, v any) error {
	resp, err := httpClient.Get(m.clientURL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// put writes a key through etcd's JSON gateway for the v3 KV API.
func (m *etcdMember) put(t *testing.T, key, value string) {
	t.Helper()
	body := fmt.Sprintf(`{"key":%q,"value":%q}`,
		base64.StdEncoding.EncodeToString([]byte(key)), base64.StdEncoding.EncodeToString([]byte(value)))
	resp, err := httpClient.Post(m.clientURL+"/v3/kv/put", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("put %s: %s: %s", key, resp.Status, b)
	}
}

// stop ends the member with SIGTERM, as an operator would, and waits.
func (m *etcdMember) stop(t *testing.T) {
	t.Helper()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.exited:
	case <-time.After(10 * time.Second):
		m.kill()
		t.Fatalf("etcd did not stop on SIGTERM within 10s; log:\n%s", m.logTail())
	}
	m.cmd = nil
}

// kill is the cleanup of last resort: no etcd outlives the test.
func (m *etcdMember) kill() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

func (m *etcdMember) logTail() string {
	b, _ := os.ReadFile(m.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// checksums maps every file below dir to its sha256.
func checksums(t *testing.T, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		rel, _ := filepath.Rel(dir, p)
		sums[rel] = hex.EncodeToString(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) == 0 {
		t.Fatalf("no files in %s", dir)
	}
	return sums
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
