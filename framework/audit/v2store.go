package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/pkg/v3/pbutil"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v2error"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v2store"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
)

// The v2store namespaces etcd creates (etcdserver.StoreClusterPrefix and
// StoreKeysPrefix; that package is too heavy to import for two strings).
const (
	storeClusterPrefix = "/0"
	storeKeysPrefix    = "/1"
)

// removedMembersPrefix is where the v2store lists removed member IDs
// (membership.RemovedMemberStoreKey without an ID).
var removedMembersPrefix = path.Join(storeClusterPrefix, "removed_members")

// v2View is membership as etcd 3.5 rebuilds it at start-up: the newest
// usable snapshot's v2store plus the committed WAL entries after it.
type v2View struct {
	members        map[ID]Member
	removed        map[ID]bool
	clusterVersion string

	localID, clusterID ID

	snapshot                    string
	snapshotIndex, snapshotTerm uint64
	skipped                     []string
	commitIndex                 uint64
	tornTail                    bool
	replayed                    int
	changes                     []Change
}

// quietLogger discards etcd's log lines and makes its Fatal calls panic
// instead of exiting, so recoverInto can report them.
func quietLogger() *zap.Logger {
	return zap.NewNop().WithOptions(zap.WithFatalHook(zapcore.WriteThenPanic))
}

func readV2Store(dataDir, memberDir string) (*v2View, error) {
	lg := quietLogger()
	walDir := filepath.Join(memberDir, "wal")
	snapDir := filepath.Join(memberDir, "snap")
	v := &v2View{members: map[ID]Member{}, removed: map[ID]bool{}, changes: []Change{}}

	walSnaps, err := validSnapshotEntries(lg, walDir)
	if err != nil {
		return nil, err
	}
	st := v2store.New(storeClusterPrefix, storeKeysPrefix)
	start := walpb.Snapshot{}
	snapshot, snapName, skipped, err := loadNewestAvailable(lg, snapDir, walSnaps)
	v.skipped = skipped
	if err != nil {
		return nil, err
	}
	if snapshot != nil {
		rel, _ := filepath.Rel(dataDir, filepath.Join(snapDir, snapName))
		v.snapshot = rel
		v.snapshotIndex, v.snapshotTerm = snapshot.Metadata.Index, snapshot.Metadata.Term
		if err := recoverV2Store(st, snapshot.Data, rel); err != nil {
			return nil, err
		}
		start = walpb.Snapshot{Index: snapshot.Metadata.Index, Term: snapshot.Metadata.Term}
	}
	if err := v.loadFromStore(st); err != nil {
		return nil, unreadable("v2store in "+v.snapshotOrNone(), err)
	}

	metadata, hs, ents, err := readWAL(lg, walDir, start)
	if err != nil {
		return nil, err
	}
	var md pb.Metadata
	if err := md.Unmarshal(metadata); err == nil {
		v.localID, v.clusterID = ID(md.NodeID), ID(md.ClusterID)
	}
	v.commitIndex = hs.Commit
	if v.tornTail, err = walHasTornTail(walDir); err != nil {
		return nil, err
	}
	for _, e := range ents {
		// etcd never applies entries beyond the commit index: they may be
		// overwritten by a new leader.
		if e.Index > hs.Commit {
			break
		}
		v.replayed++
		if err := v.apply(e); err != nil {
			return nil, unreadable(fmt.Sprintf("WAL entry %d", e.Index), err)
		}
	}
	return v, nil
}

func (v *v2View) snapshotOrNone() string {
	if v.snapshot == "" {
		return "(no snapshot)"
	}
	return v.snapshot
}

// validSnapshotEntries lists the snapshots the WAL records as committed.
func validSnapshotEntries(lg *zap.Logger, walDir string) (snaps []walpb.Snapshot, err error) {
	defer recoverInto(&err, "member/wal")
	if !wal.Exist(walDir) {
		return nil, unreadable("member/wal", errors.New("no .wal files"))
	}
	snaps, err = wal.ValidSnapshotEntries(lg, walDir)
	if err != nil {
		return nil, unreadable("member/wal", err)
	}
	return snaps, nil
}

// loadNewestAvailable does what snap.Snapshotter.LoadNewestAvailable does at
// etcd start-up (newest .snap whose index and term the WAL knows) without
// its side effects: the Snapshotter renames unreadable files to .broken and
// deletes db.tmp files. Newer snapshots the WAL does not know are reported in
// skipped. An unreadable snapshot on the way is an error: etcd would fall
// back to an older one, but the operator should know about it first.
func loadNewestAvailable(lg *zap.Logger, snapDir string, walSnaps []walpb.Snapshot) (s *raftpb.Snapshot, name string, skipped []string, err error) {
	entries, err := os.ReadDir(snapDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", nil, nil
		}
		return nil, "", nil, unreadable("member/snap", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".snap") {
			names = append(names, e.Name())
		}
	}
	// Names are <term>-<index>.snap in fixed-width hex: reverse order is newest first.
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		s, err := readSnap(lg, filepath.Join(snapDir, n))
		if err != nil {
			return nil, "", skipped, unreadable("member/snap/"+n, fmt.Errorf("%w (etcd would rename it to .broken and use an older snapshot)", err))
		}
		if !walKnows(walSnaps, s.Metadata) {
			skipped = append(skipped, fmt.Sprintf("%s: index %d term %d is not a committed snapshot in the WAL", n, s.Metadata.Index, s.Metadata.Term))
			continue
		}
		return s, n, skipped, nil
	}
	return nil, "", skipped, nil
}

func readSnap(lg *zap.Logger, p string) (s *raftpb.Snapshot, err error) {
	defer recoverInto(&err, filepath.Base(p))
	return snap.Read(lg, p)
}

func walKnows(walSnaps []walpb.Snapshot, m raftpb.SnapshotMetadata) bool {
	for _, ws := range walSnaps {
		if ws.Index == m.Index && ws.Term == m.Term {
			return true
		}
	}
	return false
}

func recoverV2Store(st v2store.Store, data []byte, what string) (err error) {
	defer recoverInto(&err, what)
	if err := st.Recovery(data); err != nil {
		return unreadable(what, fmt.Errorf("v2store: %w", err))
	}
	return nil
}

// readWAL reads the WAL from the snapshot at start, read-only.
func readWAL(lg *zap.Logger, walDir string, start walpb.Snapshot) (metadata []byte, hs raftpb.HardState, ents []raftpb.Entry, err error) {
	defer recoverInto(&err, "member/wal")
	w, err := wal.OpenForRead(lg, walDir, start)
	if err != nil {
		return nil, hs, nil, unreadable("member/wal", err)
	}
	defer w.Close()
	metadata, hs, ents, err = w.ReadAll()
	if err != nil {
		return nil, hs, nil, unreadable("member/wal", err)
	}
	return metadata, hs, ents, nil
}

// walHasTornTail reports whether the WAL ends in a partly written record.
// wal.ReadAll in read mode stops there silently; etcd truncates it at
// start-up (wal.Repair). The decoding loop is wal.ValidSnapshotEntries'.
func walHasTornTail(walDir string) (torn bool, err error) {
	defer recoverInto(&err, "member/wal")
	names, err := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if err != nil {
		return false, unreadable("member/wal", err)
	}
	sort.Strings(names) // <seq>-<index>.wal in fixed-width hex
	var readers []fileutil.FileReader
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			return false, unreadable("member/wal", err)
		}
		defer f.Close()
		readers = append(readers, fileutil.NewFileReader(f))
	}
	dec := wal.NewDecoder(readers...)
	var rec walpb.Record
	for err = dec.Decode(&rec); err == nil; err = dec.Decode(&rec) {
		if rec.Type == wal.CrcType {
			dec.UpdateCRC(rec.Crc)
		}
	}
	switch {
	case errors.Is(err, io.EOF):
		return false, nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return true, nil
	}
	return false, unreadable("member/wal", err)
}

// loadFromStore reads members, removed members and the cluster version from
// the v2store, with the key layout of etcd's membership package.
func (v *v2View) loadFromStore(st v2store.Store) error {
	if e, err := st.Get(membership.StoreMembersPrefix, true, true); err == nil {
		for _, n := range e.Node.Nodes {
			m, err := memberFromNode(n)
			if err != nil {
				return err
			}
			v.members[m.ID] = m
		}
	} else if !isKeyNotFound(err) {
		return fmt.Errorf("get %s: %w", membership.StoreMembersPrefix, err)
	}
	if e, err := st.Get(removedMembersPrefix, true, true); err == nil {
		for _, n := range e.Node.Nodes {
			id, err := types.IDFromString(path.Base(n.Key))
			if err != nil {
				return fmt.Errorf("removed member key %q: %w", n.Key, err)
			}
			v.removed[ID(id)] = true
		}
	} else if !isKeyNotFound(err) {
		return fmt.Errorf("get %s: %w", removedMembersPrefix, err)
	}
	if e, err := st.Get(membership.StoreClusterVersionKey(), false, false); err == nil && e.Node.Value != nil {
		v.clusterVersion = *e.Node.Value
	} else if err != nil && !isKeyNotFound(err) {
		return fmt.Errorf("get %s: %w", membership.StoreClusterVersionKey(), err)
	}
	return nil
}

// memberFromNode decodes /0/members/<id>/{raftAttributes,attributes} as
// etcd's membership package does.
func memberFromNode(n *v2store.NodeExtern) (Member, error) {
	id, err := types.IDFromString(path.Base(n.Key))
	if err != nil {
		return Member{}, fmt.Errorf("member key %q: %w", n.Key, err)
	}
	m := membership.Member{ID: id}
	var hasRaftAttrs bool
	for _, nn := range n.Nodes {
		if nn.Value == nil {
			continue
		}
		switch path.Base(nn.Key) {
		case "raftAttributes":
			hasRaftAttrs = true
			if err := json.Unmarshal([]byte(*nn.Value), &m.RaftAttributes); err != nil {
				return Member{}, fmt.Errorf("%s: %w", nn.Key, err)
			}
		case "attributes":
			if err := json.Unmarshal([]byte(*nn.Value), &m.Attributes); err != nil {
				return Member{}, fmt.Errorf("%s: %w", nn.Key, err)
			}
		}
	}
	if !hasRaftAttrs {
		return Member{}, fmt.Errorf("member %s has no raftAttributes", id)
	}
	return fromEtcdMember(ID(id), &m), nil
}

func isKeyNotFound(err error) bool {
	var e *v2error.Error
	return errors.As(err, &e) && e.ErrorCode == v2error.EcodeKeyNotFound
}

// apply replays one committed WAL entry's effect on membership, as etcd's
// applyConfChange and applyEntryNormal do on the v2store.
func (v *v2View) apply(e raftpb.Entry) error {
	switch e.Type {
	case raftpb.EntryConfChange:
		var cc raftpb.ConfChange
		if err := cc.Unmarshal(e.Data); err != nil {
			return fmt.Errorf("conf change: %w", err)
		}
		return v.applyConfChange(e.Index, cc)
	case raftpb.EntryNormal:
		return v.applyNormal(e.Index, e.Data)
	}
	// etcd never proposes EntryConfChangeV2.
	return nil
}

func (v *v2View) applyConfChange(index uint64, cc raftpb.ConfChange) error {
	id := ID(cc.NodeID)
	switch cc.Type {
	case raftpb.ConfChangeAddNode, raftpb.ConfChangeAddLearnerNode:
		// Bootstrap entries carry a Member, later ones a ConfigChangeContext
		// (a Member plus isPromote): both decode into the latter.
		var ctx membership.ConfigChangeContext
		if err := json.Unmarshal(cc.Context, &ctx); err != nil {
			return fmt.Errorf("conf change context: %w", err)
		}
		if ID(ctx.Member.ID) != id {
			return fmt.Errorf("conf change for %s carries member %s", id, ID(ctx.Member.ID))
		}
		if ctx.IsPromote {
			m, ok := v.members[id]
			if !ok {
				// etcd rejects this change; it has no effect.
				v.record(index, "promote", id, "ignored: not a member")
				return nil
			}
			m.IsLearner = false
			v.members[id] = m
			v.record(index, "promote", id, "")
			return nil
		}
		if _, ok := v.members[id]; ok || v.removed[id] {
			v.record(index, "add", id, "ignored: member exists or was removed")
			return nil
		}
		m := fromEtcdMember(id, &ctx.Member)
		v.members[id] = m
		kind := "add"
		if m.IsLearner {
			kind = "add-learner"
		}
		v.record(index, kind, id, strings.Join(m.PeerURLs, ","))
	case raftpb.ConfChangeRemoveNode:
		if _, ok := v.members[id]; !ok {
			v.record(index, "remove", id, "ignored: not a member")
			return nil
		}
		delete(v.members, id)
		v.removed[id] = true
		v.record(index, "remove", id, "")
	case raftpb.ConfChangeUpdateNode:
		var m membership.Member
		if err := json.Unmarshal(cc.Context, &m); err != nil {
			return fmt.Errorf("conf change context: %w", err)
		}
		cur, ok := v.members[id]
		if !ok {
			v.record(index, "update-peer-urls", id, "ignored: not a member")
			return nil
		}
		cur.PeerURLs, cur.IsLearner = m.PeerURLs, m.IsLearner
		v.members[id] = cur
		v.record(index, "update-peer-urls", id, strings.Join(m.PeerURLs, ","))
	}
	return nil
}

// applyNormal handles the two normal entries that touch membership data:
// member attributes (published name and client URLs) and the cluster
// version, in their v3 (InternalRaftRequest) or v2 (PUT Request) form.
func (v *v2View) applyNormal(index uint64, data []byte) error {
	if len(data) == 0 {
		return nil // empty entry a new leader appends
	}
	var req pb.InternalRaftRequest
	// Same order as etcd's applyEntryNormal: InternalRaftRequest first, a
	// bare v2 Request for older entries.
	if !pbutil.MaybeUnmarshal(&req, data) {
		var r pb.Request
		if err := r.Unmarshal(data); err != nil {
			return fmt.Errorf("normal entry is neither an InternalRaftRequest nor a v2 Request: %w", err)
		}
		req.V2 = &r
	}
	if r := req.V2; r != nil {
		if r.Method != http.MethodPut {
			return nil
		}
		switch {
		case r.Path == membership.StoreClusterVersionKey():
			v.setClusterVersion(index, r.Val)
		case path.Base(r.Path) == "attributes" && path.Dir(path.Dir(r.Path)) == membership.StoreMembersPrefix:
			id, err := types.IDFromString(path.Base(path.Dir(r.Path)))
			if err != nil {
				return fmt.Errorf("v2 attributes path %q: %w", r.Path, err)
			}
			var attr membership.Attributes
			if err := json.Unmarshal([]byte(r.Val), &attr); err != nil {
				return fmt.Errorf("v2 attributes of %s: %w", id, err)
			}
			v.setAttributes(index, ID(id), attr.Name, attr.ClientURLs)
		}
		return nil
	}
	if s := req.ClusterMemberAttrSet; s != nil && s.MemberAttributes != nil {
		v.setAttributes(index, ID(s.Member_ID), s.MemberAttributes.Name, s.MemberAttributes.ClientUrls)
	}
	if s := req.ClusterVersionSet; s != nil {
		v.setClusterVersion(index, s.Ver)
	}
	return nil
}

func (v *v2View) setAttributes(index uint64, id ID, name string, clientURLs []string) {
	m, ok := v.members[id]
	if !ok {
		v.record(index, "set-attributes", id, "ignored: not a member")
		return
	}
	m.Name, m.ClientURLs = name, clientURLs
	v.members[id] = m
	v.record(index, "set-attributes", id, name)
}

func (v *v2View) setClusterVersion(index uint64, ver string) {
	v.clusterVersion = ver
	v.record(index, "set-cluster-version", 0, ver)
}

func (v *v2View) record(index uint64, kind string, id ID, detail string) {
	v.changes = append(v.changes, Change{Index: index, Kind: kind, MemberID: id, Detail: detail})
}
