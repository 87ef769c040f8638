package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"etcd-upgrade-e2e/framework/audit"
	"etcd-upgrade-e2e/framework/audit/audittest"

	"go.etcd.io/raft/v3/raftpb"
)

var (
	m1 = audittest.Member{ID: 0x1111, Name: "m1", PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://127.0.0.1:2379"}}
	m2 = audittest.Member{ID: 0x2222, Name: "m2", PeerURLs: []string{"http://127.0.0.2:2380"}, ClientURLs: []string{"http://127.0.0.2:2379"}}
	m3 = audittest.Member{ID: 0x3333, Name: "m3", PeerURLs: []string{"http://127.0.0.3:2380"}, ClientURLs: []string{"http://127.0.0.3:2379"}}
)

func learner(m audittest.Member) audittest.Member { m.IsLearner = true; return m }

func writeDir(t *testing.T, s audittest.Spec) string {
	t.Helper()
	dir := t.TempDir()
	if s.LocalID == 0 {
		s.LocalID, s.ClusterID = m1.ID, 0xc1
	}
	if err := audittest.Write(dir, s); err != nil {
		t.Fatalf("write data dir: %v", err)
	}
	return dir
}

func kinds(ds []audit.Diff) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.MemberID.String()+" "+string(d.Kind))
	}
	return out
}

// An etcd 3.7 data dir (storage version 3.7) keeps no v2store: the audit
// says so instead of judging one, still compares the v2-format copy 3.7
// writes from its v3store where it can read it, and does not fail where it
// cannot.
func TestAuditNoV2Store(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    audittest.Spec
		verdict audit.Verdict
		diffs   []string
	}{
		{
			name: "the copy agrees",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, m2}, V3ClusterVersion: "3.7.0", StorageVersion: "3.7.0",
				Snapshot: true, SnapIndex: 10, SnapMembers: []audittest.Member{m1, m2}, SnapClusterVersion: "3.7.0",
			},
			verdict: audit.VerdictNoV2Store,
		},
		{
			name: "the copy disagrees",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, m2}, V3ClusterVersion: "3.7.0", StorageVersion: "3.7.0",
				Snapshot: true, SnapIndex: 10, SnapMembers: []audittest.Member{m1}, SnapClusterVersion: "3.7.0",
			},
			verdict: audit.VerdictInconsistent,
			diffs:   []string{"2222 only-in-v3store"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := audit.Audit(writeDir(t, tc.spec))
			if err != nil {
				t.Fatalf("Audit: %v", err)
			}
			if r.Verdict != tc.verdict || !strings.HasPrefix(r.NoV2Store, "no v2store (etcd 3.7)") {
				t.Errorf("verdict %s (%q), want %s", r.Verdict, r.NoV2Store, tc.verdict)
			}
			if got := kinds(r.Diffs); strings.Join(got, "\n") != strings.Join(tc.diffs, "\n") {
				t.Errorf("diffs %v, want %v", got, tc.diffs)
			}
		})
	}
	t.Run("no readable copy", func(t *testing.T) {
		dir := writeDir(t, audittest.Spec{V3Members: []audittest.Member{m1}, StorageVersion: "3.7.0"})
		if err := os.RemoveAll(filepath.Join(dir, "member", "wal")); err != nil {
			t.Fatal(err)
		}
		r, err := audit.Audit(dir)
		if err != nil {
			t.Fatalf("Audit of a 3.7 data dir with no v2 data failed: %v", err)
		}
		if r.Verdict != audit.VerdictNoV2Store || !strings.Contains(r.NoV2Store, "could not be read") || len(r.V3Members) != 1 {
			t.Errorf("verdict %s, %q, v3store %v", r.Verdict, r.NoV2Store, r.V3Members)
		}
		// The same data dir at 3.6 is unreadable: 3.6 data has a v2store.
		dir36 := writeDir(t, audittest.Spec{V3Members: []audittest.Member{m1}, StorageVersion: "3.6.0"})
		if err := os.RemoveAll(filepath.Join(dir36, "member", "wal")); err != nil {
			t.Fatal(err)
		}
		if _, err := audit.Audit(dir36); !errors.Is(err, audit.ErrUnreadable) {
			t.Errorf("3.6 data dir with no WAL: %v, want ErrUnreadable", err)
		}
	})
}

func TestAudit(t *testing.T) {
	tests := []struct {
		name       string
		spec       audittest.Spec
		verdict    audit.Verdict
		diffs      []string
		v2Learners int
		v3Learners int
	}{
		{
			name: "consistent",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, m2, m3}, V3ClusterVersion: "3.5.0",
				Snapshot: true, SnapIndex: 10, SnapTerm: 2, SnapMembers: []audittest.Member{m1, m2, m3}, SnapClusterVersion: "3.5.0",
				Entries: []raftpb.Entry{audittest.Put("a", "b")},
			},
			verdict: audit.VerdictConsistent,
		},
		{
			name: "consistent with a learner not yet promoted",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, learner(m2)},
				Snapshot:  true, SnapIndex: 10, SnapMembers: []audittest.Member{m1, learner(m2)},
			},
			verdict:    audit.VerdictConsistent,
			v2Learners: 1, v3Learners: 1,
		},
		{
			name: "etcd 19557: promotions in the snapshot only",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, learner(m2), learner(m3)}, V3ClusterVersion: "3.5.0",
				Snapshot: true, SnapIndex: 20, SnapMembers: []audittest.Member{m1, m2, m3}, SnapClusterVersion: "3.5.0",
			},
			verdict:    audit.VerdictAtRisk,
			diffs:      []string{"2222 promoted-in-v2store-only", "3333 promoted-in-v2store-only"},
			v3Learners: 2,
		},
		{
			name: "etcd 19557: promotion replayed from the WAL after the snapshot",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, learner(m2)},
				Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1},
				Entries: []raftpb.Entry{
					audittest.AddMember(learner(m2)),
					audittest.SetAttributesV3(m2.ID, m2.Name, m2.ClientURLs...),
					audittest.Promote(m2),
				},
			},
			verdict:    audit.VerdictAtRisk,
			diffs:      []string{"2222 promoted-in-v2store-only"},
			v3Learners: 1,
		},
		{
			name: "no snapshot: bootstrap entries replayed from the start of the WAL",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, m2}, V3ClusterVersion: "3.5.0",
				Entries: []raftpb.Entry{
					audittest.AddMember(audittest.Member{ID: m1.ID, PeerURLs: m1.PeerURLs}),
					audittest.AddMember(audittest.Member{ID: m2.ID, PeerURLs: m2.PeerURLs}),
					audittest.SetAttributesV2(m1.ID, m1.Name, m1.ClientURLs...),
					audittest.SetAttributesV3(m2.ID, m2.Name, m2.ClientURLs...),
					audittest.SetClusterVersion("3.5.0"),
				},
			},
			verdict: audit.VerdictConsistent,
		},
		{
			name: "uncommitted promotion is not replayed",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, learner(m2)},
				Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1, learner(m2)},
				Entries: []raftpb.Entry{audittest.Put("k", "v"), audittest.Promote(m2)},
				Commit:  6,
			},
			verdict:    audit.VerdictConsistent,
			v2Learners: 1, v3Learners: 1,
		},
		{
			name: "client URLs published to the v2store only, as by 3.5.19 and older",
			spec: audittest.Spec{
				V3Members: []audittest.Member{{ID: m1.ID, Name: m1.Name, PeerURLs: m1.PeerURLs}},
				Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1},
			},
			verdict: audit.VerdictConsistent,
			diffs:   []string{"1111 attributes-differ"},
		},
		{
			name: "member in the v2store only",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1},
				Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1, m2},
			},
			verdict: audit.VerdictInconsistent,
			diffs:   []string{"2222 only-in-v2store"},
		},
		{
			name: "member removed in the WAL, still in the v3store",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, m2},
				Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1, m2},
				Entries: []raftpb.Entry{audittest.Remove(m2.ID)},
			},
			verdict: audit.VerdictInconsistent,
			diffs:   []string{"2222 only-in-v3store"},
		},
		{
			name: "peer URLs updated in the WAL only",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, m2},
				Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1, m2},
				Entries: []raftpb.Entry{audittest.UpdatePeerURLs(audittest.Member{ID: m2.ID, PeerURLs: []string{"http://127.0.0.9:2380"}})},
			},
			verdict: audit.VerdictInconsistent,
			diffs:   []string{"2222 peer-urls-differ"},
		},
		{
			name: "removed lists differ",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1}, V3Removed: []uint64{m3.ID},
				Snapshot: true, SnapIndex: 5, SnapMembers: []audittest.Member{m1},
			},
			verdict: audit.VerdictInconsistent,
			diffs:   []string{"3333 removed-in-one-store-only"},
		},
		{
			name: "both 19557 and another difference: at-risk wins",
			spec: audittest.Spec{
				V3Members: []audittest.Member{m1, learner(m2), m3},
				Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1, m2},
			},
			verdict:    audit.VerdictAtRisk,
			diffs:      []string{"2222 promoted-in-v2store-only", "3333 only-in-v3store"},
			v3Learners: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.spec)
			r, err := audit.Audit(dir)
			if err != nil {
				t.Fatalf("Audit: %v", err)
			}
			if r.Verdict != tt.verdict {
				t.Errorf("verdict %q, want %q; diffs %v", r.Verdict, tt.verdict, r.Diffs)
			}
			if got := kinds(r.Diffs); strings.Join(got, "\n") != strings.Join(tt.diffs, "\n") {
				t.Errorf("diffs\n%v\nwant\n%v", got, tt.diffs)
			}
			if n := len(audit.Learners(r.V2Members)); n != tt.v2Learners {
				t.Errorf("%d v2store learners, want %d", n, tt.v2Learners)
			}
			if n := len(audit.Learners(r.V3Members)); n != tt.v3Learners {
				t.Errorf("%d v3store learners, want %d", n, tt.v3Learners)
			}
			if r.Advice == "" {
				t.Error("no advice")
			}
			var buf bytes.Buffer
			if err := r.WriteTable(&buf); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), "verdict:   "+string(tt.verdict)) {
				t.Errorf("table lacks the verdict:\n%s", buf.String())
			}
		})
	}
}

func TestAuditDetails(t *testing.T) {
	dir := writeDir(t, audittest.Spec{
		LocalID: m1.ID, ClusterID: 0xabc,
		V3Members: []audittest.Member{m1, learner(m2), learner(m3)}, V3ClusterVersion: "3.6.0", StorageVersion: "3.6",
		Snapshot: true, SnapIndex: 7, SnapTerm: 3, SnapMembers: []audittest.Member{m1, learner(m2), m3}, SnapClusterVersion: "3.5.0",
		Entries: []raftpb.Entry{audittest.Promote(m2), audittest.SetClusterVersion("3.6.0"), audittest.Put("k", "v")},
	})
	r, err := audit.Audit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.LocalID != audit.ID(m1.ID) || r.ClusterID != 0xabc {
		t.Errorf("local %s cluster %s", r.LocalID, r.ClusterID)
	}
	want := audit.Versions{ClusterV2: "3.6.0", ClusterV3: "3.6.0", Storage: "3.6"}
	if r.Versions != want {
		t.Errorf("versions %+v, want %+v", r.Versions, want)
	}
	if r.Source.SnapshotIndex != 7 || r.Source.SnapshotTerm != 3 || r.Source.EntriesReplayed != 3 || r.Source.CommitIndex != 10 {
		t.Errorf("source %+v", r.Source)
	}
	if filepath.Dir(r.Source.Snapshot) != filepath.Join("member", "snap") {
		t.Errorf("snapshot path %q", r.Source.Snapshot)
	}
	if len(r.Changes) != 2 || r.Changes[0].Kind != "promote" || r.Changes[0].MemberID != audit.ID(m2.ID) || r.Changes[1].Kind != "set-cluster-version" {
		t.Errorf("changes %+v", r.Changes)
	}
	if !strings.Contains(r.Advice, "too many learner members") {
		t.Errorf("advice does not warn about 2 learners: %s", r.Advice)
	}

	// The JSON form is stable and round-trips, IDs as etcd's hex strings.
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"verdict":"at-risk"`, `"local_member_id":"1111"`, `"id":"2222"`, `"is_learner":true`, `"kind":"promoted-in-v2store-only"`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("JSON lacks %s:\n%s", s, b)
		}
	}
	var back audit.Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.V3Members[1].ID != audit.ID(m2.ID) || back.Verdict != r.Verdict {
		t.Errorf("round trip: %+v", back)
	}
}

func TestAuditPicksNewestSnapshotTheWALKnows(t *testing.T) {
	dir := writeDir(t, audittest.Spec{
		V3Members: []audittest.Member{m1, m2},
		Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1, m2},
	})
	snapDir := filepath.Join(dir, "member", "snap")
	// A newer snapshot the WAL never recorded (as after a crash between
	// writing the .snap and the WAL record): etcd skips it. An older corrupt
	// one: etcd never reads it.
	other := writeDir(t, audittest.Spec{Snapshot: true, SnapIndex: 9, SnapMembers: []audittest.Member{m1}})
	names, _ := filepath.Glob(filepath.Join(other, "member", "snap", "*.snap"))
	copyFile(t, names[0], filepath.Join(snapDir, filepath.Base(names[0])))
	old := filepath.Join(snapDir, "0000000000000001-0000000000000002.snap")
	must(t, os.WriteFile(old, []byte("garbage"), 0o600))
	r, err := audit.Audit(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Source.SnapshotIndex != 5 || len(r.Source.SkippedSnapshots) != 1 || r.Verdict != audit.VerdictConsistent {
		t.Errorf("source %+v verdict %s", r.Source, r.Verdict)
	}

	// A corrupt newest snapshot is an error, and stays where it is (etcd's
	// Snapshotter would rename it).
	newest := filepath.Join(snapDir, "0000000000000009-00000000000000ff.snap")
	must(t, os.WriteFile(newest, []byte("garbage"), 0o600))
	if _, err := audit.Audit(dir); !errors.Is(err, audit.ErrUnreadable) || !strings.Contains(err.Error(), filepath.Base(newest)) {
		t.Errorf("corrupt newest snapshot: %v", err)
	}
	for _, p := range []string{old, newest} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("corrupt snapshot was touched: %v", err)
		}
	}
}

func TestAuditTornWALTail(t *testing.T) {
	dir := writeDir(t, audittest.Spec{
		V3Members: []audittest.Member{m1},
		Snapshot:  true, SnapIndex: 5, SnapMembers: []audittest.Member{m1},
		Entries: []raftpb.Entry{audittest.Put("a", "b")},
	})
	r, err := audit.Audit(dir)
	if err != nil || r.Source.WALTornTail {
		t.Fatalf("intact WAL: torn %v, err %v", r != nil && r.Source.WALTornTail, err)
	}
	// A record cut short after its length field, as a crash mid-write or a
	// copy of a running member leaves it.
	names, _ := filepath.Glob(filepath.Join(dir, "member", "wal", "*.wal"))
	f, err := os.OpenFile(names[0], os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	_, err = f.Write([]byte{64, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	must(t, err)
	must(t, f.Close())
	r, err = audit.Audit(dir)
	if err != nil {
		t.Fatalf("torn WAL: %v", err)
	}
	if !r.Source.WALTornTail || r.Source.EntriesReplayed != 1 || r.Verdict != audit.VerdictConsistent {
		t.Errorf("torn tail: source %+v verdict %s", r.Source, r.Verdict)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestAuditErrors(t *testing.T) {
	good := audittest.Spec{V3Members: []audittest.Member{m1}, Snapshot: true, SnapIndex: 5, SnapMembers: []audittest.Member{m1}}
	tests := []struct {
		name   string
		dir    func(t *testing.T) string
		is     error
		substr string
	}{
		{"missing dir", func(t *testing.T) string { return filepath.Join(t.TempDir(), "nope") }, audit.ErrNotDataDir, "no such file"},
		{"empty dir", func(t *testing.T) string { return t.TempDir() }, audit.ErrNotDataDir, "no member/ directory"},
		{"member dir given", func(t *testing.T) string { return filepath.Join(writeDir(t, good), "member") }, audit.ErrNotDataDir, "pass its parent"},
		{"no db", func(t *testing.T) string {
			d := writeDir(t, good)
			must(t, os.Remove(filepath.Join(d, "member", "snap", "db")))
			return d
		}, audit.ErrUnreadable, "member/snap/db"},
		{"empty db", func(t *testing.T) string {
			d := writeDir(t, good)
			must(t, os.Truncate(filepath.Join(d, "member", "snap", "db"), 0))
			return d
		}, audit.ErrUnreadable, "empty"},
		{"garbage db", func(t *testing.T) string {
			d := writeDir(t, good)
			must(t, os.WriteFile(filepath.Join(d, "member", "snap", "db"), bytes.Repeat([]byte("x"), 8192), 0o600))
			return d
		}, audit.ErrUnreadable, "member/snap/db"},
		{"no wal", func(t *testing.T) string {
			d := writeDir(t, good)
			must(t, os.RemoveAll(filepath.Join(d, "member", "wal")))
			return d
		}, audit.ErrUnreadable, "no .wal files"},
		{"truncated snapshot", func(t *testing.T) string {
			d := writeDir(t, good)
			names, _ := filepath.Glob(filepath.Join(d, "member", "snap", "*.snap"))
			fi, err := os.Stat(names[0])
			must(t, err)
			must(t, os.Truncate(names[0], fi.Size()/2))
			return d
		}, audit.ErrUnreadable, ".snap"},
		{"corrupt wal", func(t *testing.T) string {
			d := writeDir(t, good)
			names, _ := filepath.Glob(filepath.Join(d, "member", "wal", "*.wal"))
			b, err := os.ReadFile(names[0])
			must(t, err)
			b[len(b)/2] ^= 0xff
			must(t, os.WriteFile(names[0], b, 0o600))
			return d
		}, audit.ErrUnreadable, "member/wal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := audit.Audit(tt.dir(t))
			if err == nil {
				t.Fatalf("no error; report %+v", r)
			}
			if !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q, want %v containing %q", err, tt.is, tt.substr)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
