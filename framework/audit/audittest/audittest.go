// Package audittest writes small synthetic etcd data dirs with etcd's own
// storage packages, so the audit can be tested without running etcd.
package audittest

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	bolt "go.etcd.io/bbolt"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/etcdserver/api/snap"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v2store"
	"go.etcd.io/etcd/server/v3/storage/schema"
	"go.etcd.io/etcd/server/v3/storage/wal"
	"go.etcd.io/etcd/server/v3/storage/wal/walpb"
	"go.etcd.io/raft/v3/raftpb"
)

// Member is one member record.
type Member struct {
	ID         uint64
	Name       string
	PeerURLs   []string
	ClientURLs []string
	IsLearner  bool
}

func (m Member) etcd() *membership.Member {
	return &membership.Member{
		ID:             types.ID(m.ID),
		RaftAttributes: membership.RaftAttributes{PeerURLs: m.PeerURLs, IsLearner: m.IsLearner},
		Attributes:     membership.Attributes{Name: m.Name, ClientURLs: m.ClientURLs},
	}
}

// Spec describes a data dir.
type Spec struct {
	LocalID, ClusterID uint64

	// The bbolt backend (member/snap/db).
	V3Members        []Member
	V3Removed        []uint64
	V3ClusterVersion string // "" leaves it unset
	StorageVersion   string // "" leaves it unset, as etcd 3.5 does

	// Snapshot, when true, writes a .snap at SnapIndex/SnapTerm holding a
	// v2store with SnapMembers, SnapRemoved and SnapClusterVersion.
	Snapshot           bool
	SnapIndex          uint64
	SnapTerm           uint64
	SnapMembers        []Member
	SnapRemoved        []uint64
	SnapClusterVersion string

	// Entries follow the snapshot in the WAL. Index and Term are filled in
	// (SnapIndex+1, ... and SnapTerm, or 1) when zero.
	Entries []raftpb.Entry
	// Commit is the WAL's committed index; 0 means the last entry.
	Commit uint64
}

// Write creates dataDir/member/{snap/db,snap/*.snap,wal/*.wal} from s.
func Write(dataDir string, s Spec) error {
	memberDir := filepath.Join(dataDir, "member")
	snapDir, walDir := filepath.Join(memberDir, "snap"), filepath.Join(memberDir, "wal")
	if err := os.MkdirAll(snapDir, 0o700); err != nil {
		return err
	}
	if err := writeDB(filepath.Join(snapDir, "db"), s); err != nil {
		return fmt.Errorf("write db: %w", err)
	}
	if s.Snapshot {
		if err := writeSnap(snapDir, s); err != nil {
			return fmt.Errorf("write snapshot: %w", err)
		}
	}
	if err := writeWAL(walDir, s); err != nil {
		return fmt.Errorf("write wal: %w", err)
	}
	return nil
}

func writeDB(p string, s Spec) error {
	db, err := bolt.Open(p, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		for _, b := range schema.AllBuckets {
			if _, err := tx.CreateBucketIfNotExists(b.Name()); err != nil {
				return err
			}
		}
		members := tx.Bucket(schema.Members.Name())
		for _, m := range s.V3Members {
			v, err := json.Marshal(m.etcd())
			if err != nil {
				return err
			}
			if err := members.Put(schema.BackendMemberKey(types.ID(m.ID)), v); err != nil {
				return err
			}
		}
		removed := tx.Bucket(schema.MembersRemoved.Name())
		for _, id := range s.V3Removed {
			if err := removed.Put(schema.BackendMemberKey(types.ID(id)), []byte("removed")); err != nil {
				return err
			}
		}
		if s.V3ClusterVersion != "" {
			if err := tx.Bucket(schema.Cluster.Name()).Put(schema.ClusterClusterVersionKeyName, []byte(s.V3ClusterVersion)); err != nil {
				return err
			}
		}
		meta := tx.Bucket(schema.Meta.Name())
		if s.StorageVersion != "" {
			if err := meta.Put(schema.MetaStorageVersionName, []byte(s.StorageVersion)); err != nil {
				return err
			}
		}
		ci := make([]byte, 8)
		binary.BigEndian.PutUint64(ci, s.lastIndex())
		return meta.Put(schema.MetaConsistentIndexKeyName, ci)
	})
}

func writeSnap(snapDir string, s Spec) error {
	st := v2store.New("/0", "/1")
	permanent := v2store.TTLOptionSet{ExpireTime: v2store.Permanent}
	for _, m := range s.SnapMembers {
		em := m.etcd()
		ra, err := json.Marshal(em.RaftAttributes)
		if err != nil {
			return err
		}
		if _, err := st.Create(membership.MemberStoreKey(em.ID)+"/raftAttributes", false, string(ra), false, permanent); err != nil {
			return err
		}
		at, err := json.Marshal(em.Attributes)
		if err != nil {
			return err
		}
		if _, err := st.Set(membership.MemberAttributesStorePath(em.ID), false, string(at), permanent); err != nil {
			return err
		}
	}
	for _, id := range s.SnapRemoved {
		if _, err := st.Create(membership.RemovedMemberStoreKey(types.ID(id)), false, "", false, permanent); err != nil {
			return err
		}
	}
	if s.SnapClusterVersion != "" {
		if _, err := st.Set(membership.StoreClusterVersionKey(), false, s.SnapClusterVersion, permanent); err != nil {
			return err
		}
	}
	data, err := st.Save()
	if err != nil {
		return err
	}
	return snap.New(zap.NewNop(), snapDir).SaveSnap(raftpb.Snapshot{
		Data:     data,
		Metadata: raftpb.SnapshotMetadata{Index: s.SnapIndex, Term: s.term(), ConfState: s.confState()},
	})
}

// confState is the raft configuration matching SnapMembers.
func (s Spec) confState() raftpb.ConfState {
	var cs raftpb.ConfState
	for _, m := range s.SnapMembers {
		if m.IsLearner {
			cs.Learners = append(cs.Learners, m.ID)
		} else {
			cs.Voters = append(cs.Voters, m.ID)
		}
	}
	return cs
}

func (s Spec) term() uint64 {
	if s.SnapTerm == 0 {
		return 1
	}
	return s.SnapTerm
}

// entries returns s.Entries with indexes and terms filled in.
func (s Spec) entries() []raftpb.Entry {
	out := make([]raftpb.Entry, len(s.Entries))
	for i, e := range s.Entries {
		if e.Index == 0 {
			e.Index = s.SnapIndex + uint64(i) + 1
		}
		if e.Term == 0 {
			e.Term = s.term()
		}
		out[i] = e
	}
	return out
}

func (s Spec) lastIndex() uint64 {
	if ents := s.entries(); len(ents) > 0 {
		return ents[len(ents)-1].Index
	}
	return s.SnapIndex
}

func writeWAL(walDir string, s Spec) error {
	md, err := (&pb.Metadata{NodeID: s.LocalID, ClusterID: s.ClusterID}).Marshal()
	if err != nil {
		return err
	}
	w, err := wal.Create(zap.NewNop(), walDir, md)
	if err != nil {
		return err
	}
	if s.Snapshot {
		cs := s.confState()
		if err := w.SaveSnapshot(walpb.Snapshot{Index: s.SnapIndex, Term: s.term(), ConfState: &cs}); err != nil {
			w.Close()
			return err
		}
	}
	commit := s.Commit
	if commit == 0 {
		commit = s.lastIndex()
	}
	if err := w.Save(raftpb.HardState{Term: s.term(), Commit: commit}, s.entries()); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return trimWAL(walDir)
}

// trimWAL cuts the preallocated zeros (64 MB) off the WAL file so test data
// stays small; etcd reads the zeros as end of WAL, so the result is the same.
func trimWAL(walDir string) error {
	names, err := filepath.Glob(filepath.Join(walDir, "*.wal"))
	if err != nil || len(names) != 1 {
		return fmt.Errorf("expected one wal file, got %v (%v)", names, err)
	}
	f, err := os.OpenFile(names[0], os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	dec := wal.NewDecoder(fileutil.NewFileReader(f))
	var rec walpb.Record
	for err = dec.Decode(&rec); err == nil; err = dec.Decode(&rec) {
	}
	if !errors.Is(err, io.EOF) {
		return err
	}
	return f.Truncate(dec.LastOffset())
}

func confChange(t raftpb.ConfChangeType, id uint64, ctx any) raftpb.Entry {
	b, err := json.Marshal(ctx)
	if err != nil {
		panic(err) // the contexts are plain structs
	}
	cc := raftpb.ConfChange{Type: t, NodeID: id, Context: b}
	return raftpb.Entry{Type: raftpb.EntryConfChange, Data: mustMarshal(&cc)}
}

type marshaler interface{ Marshal() ([]byte, error) }

func mustMarshal(m marshaler) []byte {
	b, err := m.Marshal()
	if err != nil {
		panic(err) // generated protobuf types always marshal
	}
	return b
}

// AddMember is the conf change entry that adds m (as a learner when
// m.IsLearner), as etcd's MemberAdd proposes it.
func AddMember(m Member) raftpb.Entry {
	t := raftpb.ConfChangeAddNode
	if m.IsLearner {
		t = raftpb.ConfChangeAddLearnerNode
	}
	return confChange(t, m.ID, membership.ConfigChangeContext{Member: *m.etcd()})
}

// Promote is the conf change entry that promotes learner m: an AddNode for an
// existing member with isPromote set.
func Promote(m Member) raftpb.Entry {
	m.IsLearner = false
	return confChange(raftpb.ConfChangeAddNode, m.ID, membership.ConfigChangeContext{Member: *m.etcd(), IsPromote: true})
}

// Remove is the conf change entry that removes member id.
func Remove(id uint64) raftpb.Entry {
	return raftpb.Entry{Type: raftpb.EntryConfChange, Data: mustMarshal(&raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: id})}
}

// UpdatePeerURLs is the conf change entry that sets m's peer URLs.
func UpdatePeerURLs(m Member) raftpb.Entry {
	return confChange(raftpb.ConfChangeUpdateNode, m.ID, m.etcd())
}

// SetAttributesV3 is the normal entry a 3.5+ member publishes its name and
// client URLs with.
func SetAttributesV3(id uint64, name string, clientURLs ...string) raftpb.Entry {
	req := pb.InternalRaftRequest{
		Header: &pb.RequestHeader{ID: id},
		ClusterMemberAttrSet: &membershippb.ClusterMemberAttrSetRequest{
			Member_ID:        id,
			MemberAttributes: &membershippb.Attributes{Name: name, ClientUrls: clientURLs},
		},
	}
	return raftpb.Entry{Type: raftpb.EntryNormal, Data: mustMarshal(&req)}
}

// SetAttributesV2 is the same as a v2 PUT of /0/members/<id>/attributes, as
// members before 3.5 published it.
func SetAttributesV2(id uint64, name string, clientURLs ...string) raftpb.Entry {
	val, err := json.Marshal(membership.Attributes{Name: name, ClientURLs: clientURLs})
	if err != nil {
		panic(err)
	}
	req := pb.Request{ID: id, Method: http.MethodPut, Path: membership.MemberAttributesStorePath(types.ID(id)), Val: string(val)}
	return raftpb.Entry{Type: raftpb.EntryNormal, Data: mustMarshal(&req)}
}

// SetClusterVersion is the normal entry that sets the cluster version.
func SetClusterVersion(ver string) raftpb.Entry {
	req := pb.InternalRaftRequest{ClusterVersionSet: &membershippb.ClusterVersionSetRequest{Ver: ver}}
	return raftpb.Entry{Type: raftpb.EntryNormal, Data: mustMarshal(&req)}
}

// Put is a normal entry unrelated to membership (a v3 Put).
func Put(key, value string) raftpb.Entry {
	req := pb.InternalRaftRequest{Put: &pb.PutRequest{Key: []byte(key), Value: []byte(value)}}
	return raftpb.Entry{Type: raftpb.EntryNormal, Data: mustMarshal(&req)}
}
