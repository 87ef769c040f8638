package audit

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.etcd.io/etcd/client/pkg/v3/types"
	"go.etcd.io/etcd/server/v3/etcdserver/api/membership"
	"go.etcd.io/etcd/server/v3/storage/schema"
)

// v3View is what the bbolt backend records.
type v3View struct {
	members         map[ID]Member
	removed         map[ID]bool
	clusterVersion  string
	storageVersion  string
	consistentIndex uint64
}

// readV3Store reads membership and versions from the bbolt file at dbPath.
// It uses bbolt directly rather than etcd's backend package because the
// backend always opens the file read-write.
func readV3Store(dbPath string, lockTimeout time.Duration) (v *v3View, err error) {
	fi, err := os.Stat(dbPath)
	if err != nil {
		return nil, unreadable("member/snap/db", err)
	}
	if fi.Size() == 0 {
		// bbolt would try to initialise an empty file.
		return nil, unreadable("member/snap/db", errors.New("file is empty"))
	}

	// bbolt reads the mmapped file through pointers; a corrupt page can make
	// it fault. Turn faults into panics so recoverInto reports them.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer recoverInto(&err, "member/snap/db")

	db, err := bolt.Open(dbPath, 0o400, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("%s: %w", dbPath, ErrDBLocked)
		}
		return nil, unreadable("member/snap/db", err)
	}
	defer db.Close()

	v = &v3View{members: map[ID]Member{}, removed: map[ID]bool{}}
	err = db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(schema.Members.Name()); b != nil {
			if err := b.ForEach(func(k, val []byte) error {
				id, err := types.IDFromString(string(k))
				if err != nil {
					return fmt.Errorf("members bucket key %q: %w", k, err)
				}
				// etcd stores the JSON of membership.Member under its hex ID.
				m := membership.Member{ID: id}
				if err := json.Unmarshal(val, &m); err != nil {
					return fmt.Errorf("members bucket value of %s: %w", id, err)
				}
				v.members[ID(id)] = fromEtcdMember(ID(id), &m)
				return nil
			}); err != nil {
				return err
			}
		}
		if b := tx.Bucket(schema.MembersRemoved.Name()); b != nil {
			if err := b.ForEach(func(k, _ []byte) error {
				id, err := types.IDFromString(string(k))
				if err != nil {
					return fmt.Errorf("members_removed bucket key %q: %w", k, err)
				}
				v.removed[ID(id)] = true
				return nil
			}); err != nil {
				return err
			}
		}
		if b := tx.Bucket(schema.Cluster.Name()); b != nil {
			v.clusterVersion = string(b.Get(schema.ClusterClusterVersionKeyName))
		}
		if b := tx.Bucket(schema.Meta.Name()); b != nil {
			v.storageVersion = string(b.Get(schema.MetaStorageVersionName))
			if ci := b.Get(schema.MetaConsistentIndexKeyName); len(ci) == 8 {
				v.consistentIndex = binary.BigEndian.Uint64(ci)
			}
		}
		return nil
	})
	if err != nil {
		return nil, unreadable("member/snap/db", err)
	}
	return v, nil
}

func fromEtcdMember(id ID, m *membership.Member) Member {
	return Member{
		ID:         id,
		Name:       m.Name,
		PeerURLs:   m.PeerURLs,
		ClientURLs: m.ClientURLs,
		IsLearner:  m.IsLearner,
	}
}
