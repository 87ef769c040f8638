package upgrade

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-semver/semver"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
)

// VersionReportTimeout bounds the wait until every member reports a
// version change: after `downgrade enable`, the downgrade (the leader lowers
// the cluster version and each member its storage version on their next
// version check, every few seconds on etcd 3.6); after a hop to etcd 3.7,
// storage version 3.7.
const VersionReportTimeout = 2 * time.Minute

// downgrade moves every member to the older version to as etcd supports it
// (etcd's "Downgrade etcd" guide): `etcdctl downgrade validate` and
// `downgrade enable` of the target minor, a wait until every member reports
// the downgrade, then each member restarted on the older binary on its own
// data dir, in join order. etcd decides what it allows: a refusal (a
// downgrade of more than one minor, a target the cluster version does not
// allow) stops the hop with etcd's own answer.
//
// A cluster whose rollout to the newer minor was halted midway still has
// members at the target minor, so its cluster version never left it: etcd
// refuses to enable a downgrade to the version it already has, and the
// members on the newer minor restart on the older binary directly, which
// etcd allows. The refusal is recorded with the step.
func (r *runner) downgrade(ctx context.Context, hop string, to etcdbin.Version) error {
	target := to.MinorString()
	var atTarget []string
	for _, m := range r.cl.Members() {
		if v := m.Version(); v.Major == to.Major && v.Minor == to.Minor {
			atTarget = append(atTarget, fmt.Sprintf("%s runs %s", m.Name(), v))
		}
	}
	if len(atTarget) == 0 {
		// etcd enables a downgrade from the cluster version only, which the
		// leader raises a few seconds after the last member of an upgrade
		// restarted: an operator checks the cluster runs the new minor before
		// rolling it back, and so does the hop.
		from := r.cl.Members()[0].Version()
		name := fmt.Sprintf("%s: wait until every member reports storage version %s (the cluster version a downgrade starts from)", hop, from.MinorString())
		if err := r.stepNote(ctx, name, func(ctx context.Context) (string, error) {
			note, err := r.waitStorageVersion(ctx, from)
			if err != nil {
				return "", r.fail(name, err)
			}
			return note, nil
		}); err != nil {
			return err
		}
	}
	enable := true
	name := fmt.Sprintf("%s: etcdctl downgrade validate %s", hop, target)
	if err := r.stepNote(ctx, name, func(ctx context.Context) (string, error) {
		resp, err := r.downgradeRequest(ctx, clientv3.DowngradeValidate, target)
		switch {
		case err == nil:
			return fmt.Sprintf("etcd API: cluster version %s, a downgrade to %s is valid", resp.Version, target), nil
		case len(atTarget) > 0 && etcdops.Is(err, rpctypes.ErrInvalidDowngradeTargetVersion):
			enable = false
			return fmt.Sprintf("etcd API: %v: the cluster version is still %s (%s), so there is no downgrade to enable; the members not at %s restart on it directly",
				etcdops.ShortErr(err), target, strings.Join(atTarget, ", "), to), nil
		default:
			return "", r.fail(name, err)
		}
	}); err != nil {
		return err
	}
	if enable {
		name = fmt.Sprintf("%s: etcdctl downgrade enable %s", hop, target)
		if err := r.stepNote(ctx, name, func(ctx context.Context) (string, error) {
			resp, err := r.downgradeRequest(ctx, clientv3.DowngradeEnable, target)
			if err != nil {
				return "", r.fail(name, err)
			}
			if resp == nil {
				return fmt.Sprintf("etcd API: %s (an attempt whose answer was lost enabled it)", rpctypes.ErrDowngradeInProcess), nil
			}
			return fmt.Sprintf("etcd API: downgrade to %s enabled, cluster version %s", target, resp.Version), nil
		}); err != nil {
			return err
		}
		name = fmt.Sprintf("%s: wait until every member reports the downgrade (enabled to %s, storage version %s)", hop, target, target)
		if err := r.stepNote(ctx, name, func(ctx context.Context) (string, error) {
			note, err := r.waitDowngradeReported(ctx, to)
			if err != nil {
				return "", r.fail(name, err)
			}
			return note, nil
		}); err != nil {
			return err
		}
	}
	var restart []cluster.Member
	for _, m := range r.cl.Members() {
		if m.Version() != to {
			restart = append(restart, m)
		}
	}
	return r.inPlace(ctx, hop, to, "downgrade %s in place", restart, r.cl.Upgrade)
}

// downgradeRequest sends one downgrade request through a client over every
// member, as etcdctl does, retrying only while etcd says it is passing
// (an election). An enable retried after an attempt whose answer was lost
// may find that attempt's downgrade in progress: that is a nil response
// and no error.
func (r *runner) downgradeRequest(ctx context.Context, action clientv3.DowngradeAction, target string) (*clientv3.DowngradeResponse, error) {
	cli, err := r.cl.ClusterClient(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	attempts := 0
	resp, err := etcdops.Retry(ctx, etcdops.ChangeTimeout, func(ctx context.Context) (*clientv3.DowngradeResponse, error) {
		attempts++
		return cli.Downgrade(ctx, action, target)
	})
	if action == clientv3.DowngradeEnable && attempts > 1 && etcdops.Is(err, rpctypes.ErrDowngradeInProcess) {
		return nil, nil
	}
	return resp, err
}

// waitDowngradeReported asks every member for its status until each says
// the downgrade to to's minor is enabled and its storage version is that
// minor: the point from which etcd's guide restarts members on the older
// binary. It returns what each member said.
func (r *runner) waitDowngradeReported(ctx context.Context, to etcdbin.Version) (string, error) {
	return r.waitStatuses(ctx, "the downgrade to "+to.MinorString(), func(s versionStatus) bool {
		return s.enabled && sameMinor(s.targetVersion, to) && sameMinor(s.storage, to)
	})
}

// waitStorageVersion asks every member for its status until each reports
// storage version to's minor, which follows the cluster version: after a
// hop to etcd 3.7, the point from which the cluster runs 3.7 and keeps no
// v2store; before a downgrade, the cluster version it starts from. It
// returns what each member said.
func (r *runner) waitStorageVersion(ctx context.Context, to etcdbin.Version) (string, error) {
	return r.waitStatuses(ctx, "storage version "+to.MinorString(), func(s versionStatus) bool {
		return sameMinor(s.storage, to)
	})
}

// waitStatuses asks every member for its status, once a second, until each
// answer satisfies ready or VersionReportTimeout has passed.
func (r *runner) waitStatuses(ctx context.Context, what string, ready func(versionStatus) bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, VersionReportTimeout)
	defer cancel()
	for {
		var said, waiting []string
		for _, m := range r.cl.Members() {
			s := memberVersionStatus(ctx, r.cl, m)
			said = append(said, m.Name()+": "+s.String())
			if s.err != nil || !ready(s) {
				waiting = append(waiting, m.Name()+": "+s.String())
			}
		}
		if len(waiting) == 0 {
			return strings.Join(said, "; "), nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("not every member reported %s within %s: %s", what, VersionReportTimeout, strings.Join(waiting, "; "))
		case <-time.After(time.Second):
		}
	}
}

// versionStatus is what one member's status says of its versions and of a
// downgrade.
type versionStatus struct {
	err             error
	server, storage string
	enabled         bool
	targetVersion   string
	noDowngradeInfo bool // a member before etcd 3.6
}

func memberVersionStatus(ctx context.Context, cl cluster.Cluster, m cluster.Member) versionStatus {
	cli, err := cl.Client(ctx, m)
	if err != nil {
		return versionStatus{err: err}
	}
	defer cli.Close()
	sctx, cancel := context.WithTimeout(ctx, etcdops.StatusTimeout)
	defer cancel()
	st, err := cli.Status(sctx, m.Endpoint())
	if err != nil {
		return versionStatus{err: err}
	}
	s := versionStatus{server: st.Version, storage: st.StorageVersion}
	if d := st.DowngradeInfo; d != nil {
		s.enabled, s.targetVersion = d.Enabled, d.TargetVersion
	} else {
		s.noDowngradeInfo = true
	}
	return s
}

func (s versionStatus) String() string {
	switch {
	case s.err != nil:
		return "no status (" + etcdops.ShortErr(s.err) + ")"
	case s.noDowngradeInfo:
		return fmt.Sprintf("server %s, no downgrade info (a member before etcd 3.6)", s.server)
	case s.enabled:
		return fmt.Sprintf("server %s, downgrade enabled to %s, storage version %s", s.server, s.targetVersion, orUnset(s.storage))
	default:
		return fmt.Sprintf("server %s, no downgrade enabled, storage version %s", s.server, orUnset(s.storage))
	}
}

func orUnset(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}

func sameMinor(v string, to etcdbin.Version) bool {
	sv, err := semver.NewVersion(v)
	return err == nil && int(sv.Major) == to.Major && int(sv.Minor) == to.Minor
}
