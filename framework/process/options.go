package process

import (
	"context"
	"io"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
)

// BinariesFunc returns the etcd binaries of one version; an
// *etcdbin.Provisioner's Get fits.
type BinariesFunc func(ctx context.Context, v etcdbin.Version) (etcdbin.Binaries, error)

type config struct {
	name          string
	dir           string
	snapshotCount int
	binaries      BinariesFunc
	keep          bool
	log           io.Writer
	startTimeout  time.Duration
	promoteWait   time.Duration
	portDir       string
	extraFlags    []string
}

func defaultConfig() config {
	return config{
		name:          "etcd",
		snapshotCount: 10000, // etcd's own default
		log:           io.Discard,
		startTimeout:  60 * time.Second,
		promoteWait:   2 * time.Minute,
	}
}

// Option configures a Cluster, in the style of etcd's tests/framework/e2e.
type Option func(*config)

// WithName sets the cluster name (its initial-cluster-token and member name prefix).
func WithName(name string) Option { return func(c *config) { c.name = name } }

// WithDir sets the directory for data dirs and logs, one subdirectory per member.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithSnapshotCount sets --snapshot-count. Tests lower it so that a few
// hundred writes make every member snapshot, which is when a promotion only
// recorded in the v2store stops being replayed from the WAL.
func WithSnapshotCount(n int) Option { return func(c *config) { c.snapshotCount = n } }

// WithBinaries sets how binaries of a version are found.
func WithBinaries(f BinariesFunc) Option { return func(c *config) { c.binaries = f } }

// WithKeep leaves data dirs and logs in place on Close (members are still stopped).
func WithKeep(keep bool) Option { return func(c *config) { c.keep = keep } }

// WithLog sets where progress lines go.
func WithLog(w io.Writer) Option { return func(c *config) { c.log = w } }

// WithStartTimeout bounds how long a member may take to serve after start.
func WithStartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

// WithPromoteTimeout bounds how long a learner may take to catch up before
// promotion gives up (kubeadm retries for a while too).
func WithPromoteTimeout(d time.Duration) Option { return func(c *config) { c.promoteWait = d } }

// WithPortLockDir overrides where port reservations are marked (tests).
func WithPortLockDir(dir string) Option { return func(c *config) { c.portDir = dir } }

// WithoutFsync runs every member with --unsafe-no-fsync: its WAL and bbolt
// writes reach the page cache only. The harness stops and kills processes,
// never the machine, so nothing a member wrote is lost and the membership
// data the checks read is the same; fsync on every raft entry only makes
// the catch-up writes slow (on ext4 here, 13 s instead of 6 s for 6000).
func WithoutFsync() Option { return WithExtraFlags("--unsafe-no-fsync") }

// WithExtraFlags passes more flags to every member.
func WithExtraFlags(flags ...string) Option {
	return func(c *config) { c.extraFlags = append(c.extraFlags, flags...) }
}
