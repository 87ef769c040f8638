package kind

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"

	"etcd-upgrade-e2e/framework/cluster"
	"etcd-upgrade-e2e/framework/internal/etcdops"
)

// CopyDataDir copies m's data dir into dst without restarting m: a restart
// repairs the data of etcd 3.5.20+ and would hide the state under test. A
// running member's db comes from its own snapshot stream (a consistent bbolt
// read transaction); its WAL and .snap files, which etcd only appends to or
// creates, are copied from the node after it. A stopped member's dir is
// copied as it is.
func (c *Cluster) CopyDataDir(ctx context.Context, cm cluster.Member, dst string) error {
	m, n, err := c.memberNode(cm)
	if err != nil {
		return err
	}
	cs, err := etcdContainers(ctx, n)
	if err != nil {
		return err
	}
	running := len(cs) > 0 && cs[len(cs)-1].running()
	if running {
		err := c.saveSnapshotDB(ctx, m, dst)
		if err == nil {
			return copyFromNode(ctx, n, dst, true)
		}
		c.logf("%s: no snapshot stream (%v); copying the files as they are", m.name, etcdops.ShortErr(err))
	}
	return copyFromNode(ctx, n, dst, false)
}

func (c *Cluster) saveSnapshotDB(ctx context.Context, m *Member, dst string) error {
	cli, err := c.Client(ctx, m)
	if err != nil {
		return err
	}
	defer cli.Close()
	return cluster.SaveSnapshotDB(ctx, cli, dst)
}

// copyFromNode streams /var/lib/etcd/member from the node with tar, leaving
// out the db when it came from the snapshot stream. tar's exit status 1
// ("file changed as we read it") is expected while etcd appends.
func copyFromNode(ctx context.Context, n kindexec.Cmder, dst string, skipDB bool) error {
	exclude := "--exclude=*.tmp"
	if skipDB {
		exclude += " --exclude=member/snap/db"
	}
	script := fmt.Sprintf("tar -C %s %s -cf - member || [ $? -eq 1 ]", etcdDataDir, exclude)
	cmd := n.CommandContext(ctx, "sh", "-c", script)
	err := kindexec.RunWithStdoutReader(cmd, func(r io.Reader) error { return untar(r, dst) })
	if err != nil {
		return fmt.Errorf("copying %s/member: %w", etcdDataDir, err)
	}
	return nil
}

// untar writes the regular files and directories of a tar stream under dir.
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			_, _ = io.Copy(io.Discard, r)
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.Clean(filepath.FromSlash(h.Name))
		if name == ".." || strings.HasPrefix(name, ".."+string(filepath.Separator)) || filepath.IsAbs(name) {
			return fmt.Errorf("tar entry %q leaves the destination", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// saveFile writes an artifact of one node.
func (c *Cluster) saveFile(node, name, content string) {
	dir := filepath.Join(c.cfg.dir, "nodes", node)
	if err := os.MkdirAll(dir, 0o755); err == nil {
		err = os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		if err == nil {
			return
		}
	}
	c.logf("could not save %s of %s", name, node)
}

// nodeRunLogged runs a long command on a node with its output going to an
// artifact of the node as it comes (a hung kubeadm shows where it hangs),
// each line stamped with the seconds since the start (where the time goes),
// and returns the output as it was.
func (c *Cluster) nodeRunLogged(ctx context.Context, n nodes.Node, node, file, name string, args ...string) (string, error) {
	dir := filepath.Join(c.cfg.dir, "nodes", node)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(filepath.Join(dir, file))
	if err != nil {
		return "", err
	}
	defer f.Close()
	var buf strings.Builder
	w := io.MultiWriter(&stampWriter{w: f, start: time.Now()}, &buf)
	if err := n.CommandContext(ctx, name, args...).SetStdout(w).SetStderr(w).Run(); err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return buf.String(), fmt.Errorf("%s %s: %w", name, strings.Join(args[:min(len(args), 2)], " "), err)
	}
	return buf.String(), nil
}

// timePhases records the phases of a kubeadm command that nodeRunLogged ran
// into file, from its stamped log, and keeps them as <file>-phases.txt.
func (c *Cluster) timePhases(prefix, node, file string, start time.Time) {
	end := time.Now()
	log, err := os.ReadFile(filepath.Join(c.cfg.dir, "nodes", node, file))
	if err != nil {
		return
	}
	c.timings.add(kubeadmPhases(prefix, string(log), start, end)...)
	c.saveFile(node, strings.TrimSuffix(file, ".log")+"-phases.txt", stampedPhases(string(log)))
}

// saveNodeLogs keeps the etcd container logs and the kubelet journal of a
// node that is about to be reset and removed: kind's log export at Close
// only reaches nodes that still exist.
func (c *Cluster) saveNodeLogs(ctx context.Context, n nodes.Node, stage string) {
	name := n.String()
	cs, err := etcdContainers(ctx, n)
	if err == nil {
		for _, ct := range cs {
			log, _ := containerLog(ctx, n, ct)
			c.saveFile(name, fmt.Sprintf("etcd-%s-attempt%d.log", stage, ct.Attempt), log)
		}
	}
	if out, err := nodeOutput(ctx, n, "journalctl", "--no-pager", "--output=short-precise", "-u", "kubelet"); err == nil {
		c.saveFile(name, "kubelet-"+stage+".log", out)
	}
}

// stampWriter prefixes each line with the time since start: "[+  12.3s] ".
type stampWriter struct {
	w       io.Writer
	start   time.Time
	midLine bool
}

func (s *stampWriter) Write(p []byte) (int, error) {
	var b []byte
	for _, c := range p {
		if !s.midLine {
			b = fmt.Appendf(b, "[+%6.1fs] ", time.Since(s.start).Seconds())
			s.midLine = true
		}
		b = append(b, c)
		if c == '\n' {
			s.midLine = false
		}
	}
	if _, err := s.w.Write(b); err != nil {
		return 0, err
	}
	return len(p), nil
}

// stampedPhases keeps the lines of a stamped kubeadm log that are kubeadm's
// own progress lines ("[upgrade/etcd] ..."): a timeline of where it waited.
func stampedPhases(log string) string {
	var b strings.Builder
	for _, l := range strings.Split(log, "\n") {
		i := strings.Index(l, "] ")
		if strings.HasPrefix(l, "[+") && i > 0 && strings.HasPrefix(l[i+2:], "[") {
			b.WriteString(l)
			b.WriteByte('\n')
		}
	}
	return b.String()
}
