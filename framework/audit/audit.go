// Package audit compares the two membership records an etcd data dir keeps:
// the v3store (bbolt `members` bucket of member/snap/db), which etcd 3.6
// reads, and the v2store (newest .snap plus the WAL after it), which etcd 3.5
// reads. etcd v3.5.1–v3.5.19 persist a learner promotion to the v2store only
// (etcd issue 19557), so the two can disagree; this package finds that before
// an upgrade to 3.6 does.
//
// An audit never writes: the db is opened read-only, the WAL with
// wal.OpenForRead, and snapshots are read file by file (etcd's Snapshotter
// would rename broken ones).
package audit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/coreos/go-semver/semver"
)

// Errors callers can test with errors.Is. Each returned error wraps one of
// them and says what to do.
var (
	// ErrNotDataDir: the path has no member/ directory.
	ErrNotDataDir = errors.New("not an etcd data dir")
	// ErrDBLocked: another process (normally the running member) holds the
	// bbolt file lock.
	ErrDBLocked = errors.New("db is locked: is the member still running? stop it or audit a copy")
	// ErrUnreadable: the db, WAL or snapshot is missing, truncated or corrupt.
	ErrUnreadable = errors.New("etcd data is unreadable")
)

// DefaultLockTimeout is how long Audit waits for the bbolt file lock. A
// running member holds it for as long as it runs, so waiting longer does not
// help.
const DefaultLockTimeout = time.Second

// ID is an etcd member or cluster ID. It prints, and encodes in JSON, as the
// hex string etcd uses in logs and etcdctl output.
type ID uint64

func (id ID) String() string { return strconv.FormatUint(uint64(id), 16) }

// MarshalText encodes the ID as hex.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText decodes a hex ID.
func (id *ID) UnmarshalText(b []byte) error {
	v, err := strconv.ParseUint(string(b), 16, 64)
	if err != nil {
		return fmt.Errorf("member id %q: %w", b, err)
	}
	*id = ID(v)
	return nil
}

// Member is one member as one store records it.
type Member struct {
	ID         ID       `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peer_urls"`
	ClientURLs []string `json:"client_urls"`
	IsLearner  bool     `json:"is_learner"`
}

// Role is "learner" or "voter".
func (m Member) Role() string {
	if m.IsLearner {
		return "learner"
	}
	return "voter"
}

// Versions are the etcd versions the data records.
type Versions struct {
	// ClusterV2 is /0/version of the v2store (snapshot plus WAL).
	ClusterV2 string `json:"cluster_version_v2store,omitempty"`
	// ClusterV3 is clusterVersion of the bbolt `cluster` bucket (written since 3.5).
	ClusterV3 string `json:"cluster_version_v3store,omitempty"`
	// Storage is storageVersion of the bbolt `meta` bucket (written since 3.6).
	Storage string `json:"storage_version,omitempty"`
}

// Change is one membership change replayed from the WAL after the snapshot.
type Change struct {
	Index    uint64 `json:"index"`
	Kind     string `json:"kind"` // add, add-learner, promote, remove, update-peer-urls, set-attributes, set-cluster-version
	MemberID ID     `json:"member_id,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Source describes the files the v2store view was built from.
type Source struct {
	// Snapshot is the .snap file used, relative to the data dir; empty when
	// there is none and the WAL is replayed from its start.
	Snapshot      string `json:"snapshot,omitempty"`
	SnapshotIndex uint64 `json:"snapshot_index"`
	SnapshotTerm  uint64 `json:"snapshot_term"`
	// SkippedSnapshots are .snap files etcd would not use (unreadable, or
	// newer than the WAL knows), with the reason.
	SkippedSnapshots []string `json:"skipped_snapshots,omitempty"`
	// CommitIndex is the WAL's last committed index; entries after it are
	// not replayed.
	CommitIndex     uint64 `json:"commit_index"`
	EntriesReplayed int    `json:"entries_replayed"`
	// WALTornTail: the WAL ends in a partly written record, as after a crash
	// or an incomplete copy. etcd drops it at start-up; so does the audit.
	WALTornTail bool `json:"wal_torn_tail"`
	// ConsistentIndex is the last raft index applied to the v3store.
	ConsistentIndex uint64 `json:"consistent_index"`
}

// Report is the result of auditing one data dir.
type Report struct {
	DataDir   string `json:"data_dir"`
	LocalID   ID     `json:"local_member_id"`
	ClusterID ID     `json:"cluster_id"`

	V3Members []Member `json:"v3_members"`
	V3Removed []ID     `json:"v3_removed"`
	V2Members []Member `json:"v2_members"`
	V2Removed []ID     `json:"v2_removed"`
	// NoV2Store is set for an etcd 3.7 data dir (storage version 3.7 or
	// later) and says why it has no v2store: etcd 3.7 reads membership from
	// the v3store alone. What V2Members holds then is the v2-format copy
	// 3.7 still writes into its .snap files from the v3store, compared with
	// it where it can be read.
	NoV2Store string `json:"no_v2store,omitempty"`

	Versions Versions `json:"versions"`
	Source   Source   `json:"source"`
	// Changes are the membership changes found in the WAL after the snapshot.
	Changes []Change `json:"wal_changes"`

	Diffs   []Diff  `json:"diffs"`
	Verdict Verdict `json:"verdict"`
	Advice  string  `json:"advice,omitempty"`
}

// Options tune Audit.
type Options struct {
	// LockTimeout bounds the wait for the bbolt file lock; 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
}

// Audit reads the etcd data dir dataDir (the --data-dir of a stopped member,
// or a copy of it) and compares its two membership records.
func Audit(dataDir string) (*Report, error) {
	return AuditWithOptions(dataDir, Options{})
}

// AuditWithOptions is Audit with options.
func AuditWithOptions(dataDir string, opts Options) (*Report, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	memberDir, err := findMemberDir(dataDir)
	if err != nil {
		return nil, err
	}
	r := &Report{DataDir: dataDir}

	v3, err := readV3Store(filepath.Join(memberDir, "snap", "db"), opts.LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("audit %s: v3store: %w", dataDir, err)
	}
	r.V3Members, r.V3Removed = sortedMembers(v3.members), sortedIDs(v3.removed)
	r.Versions.ClusterV3, r.Versions.Storage = v3.clusterVersion, v3.storageVersion
	r.Source.ConsistentIndex = v3.consistentIndex

	v3Only := keepsNoV2Store(v3.storageVersion)
	if v3Only {
		r.NoV2Store = noV2StoreWhy
	}
	v2, err := readV2Store(dataDir, memberDir)
	switch {
	case err != nil && v3Only:
		// Nothing but the v3store to read, and 3.7 needs nothing else.
		r.NoV2Store += fmt.Sprintf("; its v2-format copy could not be read, so the v3store is not compared with anything (%v)", err)
		r.V2Members, r.V2Removed, r.Changes = []Member{}, []ID{}, []Change{}
		r.Diffs = []Diff{}
		r.Verdict = VerdictNoV2Store
		r.Advice = adviceFor(r)
		return r, nil
	case err != nil:
		return nil, fmt.Errorf("audit %s: v2store: %w", dataDir, err)
	}
	r.V2Members, r.V2Removed = sortedMembers(v2.members), sortedIDs(v2.removed)
	r.Versions.ClusterV2 = v2.clusterVersion
	r.LocalID, r.ClusterID = v2.localID, v2.clusterID
	r.Source.Snapshot = v2.snapshot
	r.Source.SnapshotIndex, r.Source.SnapshotTerm = v2.snapshotIndex, v2.snapshotTerm
	r.Source.SkippedSnapshots = v2.skipped
	r.Source.CommitIndex, r.Source.EntriesReplayed = v2.commitIndex, v2.replayed
	r.Source.WALTornTail = v2.tornTail
	r.Changes = v2.changes

	r.Diffs = compare(v2.members, v2.removed, v3.members, v3.removed)
	r.Verdict = verdictFor(r.Diffs)
	if v3Only && r.Verdict == VerdictConsistent {
		// The copy agrees with the v3store it was written from; the v3store
		// is still all the member keeps.
		r.Verdict = VerdictNoV2Store
	}
	r.Advice = adviceFor(r)
	return r, nil
}

// noV2StoreWhy is what the report says of an etcd 3.7 data dir.
const noV2StoreWhy = "no v2store (etcd 3.7): the storage version is 3.7, and etcd 3.7 reads membership from the v3store alone; " +
	"the v2-format membership in its .snap files is written from the v3store and never read back (etcd 3.7.0 and 3.7.3 source; measured on 3.7.3), " +
	"so whatever the v3store carried through 3.6 is all this member keeps"

// keepsNoV2Store says whether a data dir's storage version (bbolt meta
// bucket, written by etcd 3.6 and later) is that of etcd 3.7 or later.
func keepsNoV2Store(storageVersion string) bool {
	v, err := semver.NewVersion(storageVersion)
	return err == nil && (v.Major > 3 || (v.Major == 3 && v.Minor >= 7))
}

// findMemberDir checks that dataDir looks like an etcd data dir and returns
// its member/ directory.
func findMemberDir(dataDir string) (string, error) {
	fi, err := os.Stat(dataDir)
	if err != nil {
		return "", fmt.Errorf("audit %s: %w: %w", dataDir, ErrNotDataDir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("audit %s: %w: not a directory", dataDir, ErrNotDataDir)
	}
	memberDir := filepath.Join(dataDir, "member")
	if fi, err := os.Stat(memberDir); err == nil && fi.IsDir() {
		return memberDir, nil
	}
	hint := "pass the directory etcd was started with as --data-dir (e.g. a copy of /var/lib/etcd)"
	if isDir(filepath.Join(dataDir, "snap")) && isDir(filepath.Join(dataDir, "wal")) {
		hint = "this looks like the member/ dir itself: pass its parent directory"
	}
	return "", fmt.Errorf("audit %s: %w: no member/ directory; %s", dataDir, ErrNotDataDir, hint)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func sortedMembers(m map[ID]Member) []Member {
	out := make([]Member, 0, len(m))
	for _, mem := range m {
		out = append(out, mem)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func sortedIDs(m map[ID]bool) []ID {
	out := make([]ID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// unreadable wraps err as ErrUnreadable with what was being read and what to do.
func unreadable(what string, err error) error {
	return fmt.Errorf("%w: %s: %w (audit a fresh copy taken with the member stopped; etcd itself may refuse this data)", ErrUnreadable, what, err)
}

// recoverInto turns a panic in etcd's or bbolt's readers (they panic on some
// corrupt input) into an ErrUnreadable error.
func recoverInto(err *error, what string) {
	if p := recover(); p != nil {
		*err = unreadable(what, fmt.Errorf("reader panicked: %v", p))
	}
}
