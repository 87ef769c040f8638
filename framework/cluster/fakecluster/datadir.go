package fakecluster

import (
	"context"
	"fmt"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"etcd-upgrade-e2e/framework/audit/audittest"
	"etcd-upgrade-e2e/framework/cluster"
)

// CopyDataDir writes to dst a synthetic etcd data dir (audittest.Write) built
// from m's own member list: the v3store db and a v2store snapshot that agree,
// so audit.Audit calls it consistent, unless the test made m's copies at
// risk (SetAtRisk) or edited them (EditCopies). To make the copy fail, script
// OpCopyDataDir.
func (c *Cluster) CopyDataDir(ctx context.Context, cm cluster.Member, dst string) error {
	m, err := c.own(cm)
	if err != nil {
		return err
	}
	call, err := c.begin(ctx, OpCopyDataDir, m)
	if err != nil {
		return err
	}
	c.mu.Lock()
	spec := c.specLocked(m)
	edit := m.editCopy
	c.mu.Unlock()
	if edit != nil {
		edit(&spec)
	}
	if err := audittest.Write(dst, spec); err != nil {
		return fmt.Errorf("copying data dir of %s: %w", m.name, err)
	}
	return c.end(ctx, call)
}

// SetAtRisk makes m's later copies carry the etcd issue 19557 signature:
// every member promoted from learner is still a learner in the v3store while
// the v2store has it as a voter, which the audit calls at-risk. A cluster
// built without learners (Bootstrap) has no promoted member to show.
func (c *Cluster) SetAtRisk(m *Member, atRisk bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.atRisk = atRisk
}

// EditCopies makes edit change the description of each later copy of m's
// data dir before it is written, for differences SetAtRisk does not cover
// (a member in one store only, other peer URLs); nil stops editing.
func (c *Cluster) EditCopies(m *Member, edit func(spec *audittest.Spec)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m.editCopy = edit
}

// specLocked describes m's data dir now: both stores hold m's list, the
// removed IDs and the cluster version of the oldest member; the snapshot
// sits at the current raft index, with no WAL entries after it.
func (c *Cluster) specLocked(m *Member) audittest.Spec {
	members := toAudit(m.view)
	v3 := toAudit(m.view)
	if m.atRisk {
		for i := range v3 {
			if c.promoted[v3[i].ID] {
				v3[i].IsLearner = true
			}
		}
	}
	clusterVersion := ""
	for _, x := range c.members {
		if v := x.version.MinorString() + ".0"; clusterVersion == "" || v < clusterVersion {
			clusterVersion = v
		}
	}
	storageVersion := ""
	if m.version.Minor >= 6 {
		storageVersion = m.version.MinorString() + ".0"
	}
	index := max(c.index, 1)
	return audittest.Spec{
		LocalID:            m.id,
		ClusterID:          c.clusterID,
		V3Members:          v3,
		V3Removed:          append([]uint64(nil), c.gone...),
		V3ClusterVersion:   clusterVersion,
		StorageVersion:     storageVersion,
		Snapshot:           true,
		SnapIndex:          index,
		SnapTerm:           max(c.term, 1),
		SnapMembers:        members,
		SnapRemoved:        append([]uint64(nil), c.gone...),
		SnapClusterVersion: clusterVersion,
	}
}

func toAudit(records []*pb.Member) []audittest.Member {
	out := make([]audittest.Member, 0, len(records))
	for _, r := range records {
		out = append(out, audittest.Member{
			ID:         r.ID,
			Name:       r.Name,
			PeerURLs:   append([]string(nil), r.PeerURLs...),
			ClientURLs: append([]string(nil), r.ClientURLs...),
			IsLearner:  r.IsLearner,
		})
	}
	return out
}
