package kind

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/internal/etcdops"
)

// Member is the etcd of one control-plane node. kubeadm names the member
// after the node, which is named after its container.
type Member struct {
	name     string
	endpoint string // https://127.0.0.1:<port published for 2379>

	mu      sync.Mutex
	id      uint64
	version etcdbin.Version
	stopped string // what etcd wrote until Stop or Kill ended it
}

// Name is the etcd member name, also the node and container name.
func (m *Member) Name() string { return m.name }

// Node is the kind node (container) the member runs on.
func (m *Member) Node() string { return m.name }

// Version is the etcd version the node's static pod runs.
func (m *Member) Version() etcdbin.Version {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.version
}

func (m *Member) stoppedLog() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopped
}

func (m *Member) setStoppedLog(log string) {
	m.mu.Lock()
	m.stopped = log
	m.mu.Unlock()
}

func (m *Member) setVersion(v etcdbin.Version) {
	m.mu.Lock()
	m.version = v
	m.mu.Unlock()
}

// ID is the etcd member ID, 0 until known.
func (m *Member) ID() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id
}

func (m *Member) setID(id uint64) {
	m.mu.Lock()
	m.id = id
	m.mu.Unlock()
}

// Endpoint is the member's client URL on a loopback port of this host. The
// member advertises its node IP instead, which only the node network reaches.
func (m *Member) Endpoint() string { return m.endpoint }

func (m *Member) String() string { return m.name + "@" + m.Version().String() }

// clientCerts is what the harness's etcd clients authenticate with: the
// cluster's etcd CA and the healthcheck client certificate kubeadm issues
// from it.
type clientCerts struct {
	ca, cert, key []byte
}

func (cc clientCerts) tlsConfig() (*tls.Config, error) {
	pair, err := tls.X509KeyPair(cc.cert, cc.key)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cc.ca) {
		return nil, errors.New("no certificate in the etcd CA file")
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// newClient dials endpoints only: no AutoSyncInterval, because the members
// advertise node IPs that this host does not route to. Reconnects back off
// for one second at most: a static pod restart keeps a member down for tens
// of seconds, and gRPC's default backoff (up to two minutes) would then
// report it serving long after it does.
func newClient(tc *tls.Config, endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         tc.Clone(),
		DialTimeout: etcdops.DialTimeout,
		Logger:      zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
	})
}
