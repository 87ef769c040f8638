package kind

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	kindexec "sigs.k8s.io/kind/pkg/exec"

	"etcd-upgrade-e2e/framework/internal/logtail"
)

// Paths of kubeadm's local etcd on a node.
const (
	manifestDir     = "/etc/kubernetes/manifests"
	etcdManifest    = manifestDir + "/etcd.yaml"
	stoppedManifest = "/etc/kubernetes/etcd.yaml.stopped"
	etcdDataDir     = "/var/lib/etcd"
)

// etcdContainer is one run of the etcd static pod's container, as the
// node's containerd records it.
type etcdContainer struct {
	ID       string
	Attempt  int
	LogPath  string // the kubelet's log file of this run
	Pid      int
	Created  time.Time
	Started  time.Time // zero until started
	Finished time.Time // zero while running
	ExitCode int
}

func (c etcdContainer) running() bool { return !c.Started.IsZero() && c.Finished.IsZero() }
func (c etcdContainer) exited() bool  { return !c.Finished.IsZero() }

// listScript prints, for every container of the node's CRI named etcd, its
// ID, containerd's CRI status record (created, started, finished, exit
// code, pid) and its containerd record (CRI metadata: attempt, log path),
// one per line. Kind's official node images have crictl, the harness's own
// have only containerd's ctr: this works with both. A container the kubelet
// removes between the listing and its info is left out, not half-printed.
const listScript = `for id in $(ctr -n k8s.io containers ls -q 'labels."io.kubernetes.container.name"==etcd'); do
  info=$(ctr -n k8s.io containers info "$id" 2>/dev/null | tr -d '\n')
  [ -n "$info" ] || continue
  echo "$id"
  cat /var/lib/containerd/io.containerd.*/containers/"$id"/status 2>/dev/null | head -n 1 | grep . || echo '{}'
  printf '%s\n' "$info"
done`

// etcdContainers lists every etcd container on the node, exited ones too,
// oldest first.
func etcdContainers(ctx context.Context, n kindexec.Cmder) ([]etcdContainer, error) {
	out, err := nodeOutput(ctx, n, "sh", "-c", listScript)
	if err != nil {
		return nil, err
	}
	return parseContainers(out)
}

// parseContainers reads listScript's output.
func parseContainers(out string) ([]etcdContainer, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil, nil
	}
	if len(lines)%3 != 0 {
		return nil, fmt.Errorf("reading etcd containers: %d lines, want triples: %s", len(lines), logtail.Last(out, 3))
	}
	var cs []etcdContainer
	for i := 0; i < len(lines); i += 3 {
		var st struct {
			Pid                              int
			CreatedAt, StartedAt, FinishedAt int64
			ExitCode                         int
		}
		if err := json.Unmarshal([]byte(lines[i+1]), &st); err != nil {
			return nil, fmt.Errorf("reading the CRI status of %s: %w", lines[i], err)
		}
		var info struct {
			CreatedAt  time.Time
			Extensions map[string]struct {
				Value []byte `json:"value"`
			}
		}
		if err := json.Unmarshal([]byte(lines[i+2]), &info); err != nil {
			return nil, fmt.Errorf("reading containerd's record of %s: %w", lines[i], err)
		}
		var md struct {
			Metadata struct {
				LogPath string
				Config  struct {
					Metadata struct {
						Name    string `json:"name"`
						Attempt int    `json:"attempt"`
					} `json:"metadata"`
				}
			}
		}
		if ext, ok := info.Extensions["io.cri-containerd.container.metadata"]; ok {
			_ = json.Unmarshal(ext.Value, &md)
		}
		c := etcdContainer{
			ID:       lines[i],
			Attempt:  md.Metadata.Config.Metadata.Attempt,
			LogPath:  md.Metadata.LogPath,
			Pid:      st.Pid,
			Created:  info.CreatedAt,
			ExitCode: st.ExitCode,
		}
		if st.CreatedAt > 0 {
			c.Created = time.Unix(0, st.CreatedAt)
		}
		if st.StartedAt > 0 {
			c.Started = time.Unix(0, st.StartedAt)
		}
		if st.FinishedAt > 0 {
			c.Finished = time.Unix(0, st.FinishedAt)
		}
		cs = append(cs, c)
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Created.Before(cs[j].Created) })
	return cs, nil
}

// containerLog returns what one etcd container wrote, from the kubelet's
// log file of that run ("<time> <stream> <P|F> <line>" per line).
func containerLog(ctx context.Context, n kindexec.Cmder, c etcdContainer) (string, error) {
	if c.LogPath == "" {
		return "", fmt.Errorf("container %s has no log path", c.ID)
	}
	raw, err := nodeOutput(ctx, n, "cat", c.LogPath)
	if err != nil {
		return "", err
	}
	return criLog(raw), nil
}

// criLog strips the CRI log prefix and joins partial lines.
func criLog(raw string) string {
	var b strings.Builder
	for _, l := range strings.Split(raw, "\n") {
		f := strings.SplitN(l, " ", 4)
		if len(f) < 4 {
			continue
		}
		b.WriteString(f[3])
		if f[2] != "P" {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

var imageLineRE = regexp.MustCompile(`(?m)^(\s*image:\s*)(\S*/etcd):(\S+)\s*$`)

// setManifestImage points the etcd static pod manifest at tag, keeping the
// image repository; it fails when the manifest names no etcd image.
func setManifestImage(manifest, tag string) (string, error) {
	locs := imageLineRE.FindAllStringSubmatchIndex(manifest, -1)
	if len(locs) != 1 {
		return "", fmt.Errorf("etcd manifest: want exactly one etcd image line, found %d", len(locs))
	}
	return imageLineRE.ReplaceAllString(manifest, "${1}${2}:"+tag), nil
}

// manifestImage returns the etcd image the manifest names.
func manifestImage(manifest string) (string, error) {
	m := imageLineRE.FindStringSubmatch(manifest)
	if m == nil {
		return "", fmt.Errorf("etcd manifest names no etcd image")
	}
	return m[2] + ":" + m[3], nil
}
