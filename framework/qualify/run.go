package qualify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"etcd-upgrade-e2e/framework/etcdbin"
	"etcd-upgrade-e2e/framework/process"
	"etcd-upgrade-e2e/framework/upgrade"
	"etcd-upgrade-e2e/scenarios"
)

// RunRecord is one path run: what it was, what it gave, where its files are.
type RunRecord struct {
	Name     string          `json:"name"`
	Path     []string        `json:"path"`
	Strategy string          `json:"strategy"`
	Verdict  upgrade.Verdict `json:"verdict"`
	// Signature is the risk signature the run showed (outcome bad).
	Signature string `json:"signature,omitempty"`
	// Line is the member's own line (or the finding) the verdict rests on.
	Line       string   `json:"line,omitempty"`
	FailedStep string   `json:"failedStep,omitempty"`
	Cause      string   `json:"cause,omitempty"`
	Evidence   []string `json:"evidence,omitempty"`
	Seconds    float64  `json:"seconds"`
	// Attempts counts the runs made (a harness error is run again).
	Attempts int `json:"attempts"`
	// Dir holds the members' logs and result.json.
	Dir string `json:"dir"`
	// Result is the full judged result (also in Dir/result.json).
	Result upgrade.Result `json:"-"`
}

// Runner runs paths on the process provider, one cluster per run, at most
// Parallel at once, and remembers what it ran: a path asked for twice runs
// once.
type Runner struct {
	Binaries      *etcdbin.Provisioner
	ArtifactsDir  string // runs go to ArtifactsDir/runs/<name>
	SnapshotCount int
	CatchUpWrites int
	StepWrites    int
	// MemberTimeout bounds how long a member may take to serve.
	MemberTimeout time.Duration
	// Retries is how often a harness error is run again.
	Retries int
	// Fsync keeps etcd's fsync; members run with --unsafe-no-fsync
	// otherwise, as in the e2e suite.
	Fsync bool
	Log   io.Writer

	once sync.Once
	sem  chan struct{}
	mu   sync.Mutex
	done map[string]*runEntry
}

type runEntry struct {
	ready chan struct{}
	rec   RunRecord
}

// Parallel sets how many paths run at once; call before the first Run.
func (r *Runner) Parallel(n int) {
	r.sem = make(chan struct{}, max(1, n))
}

func (r *Runner) init() {
	r.once.Do(func() {
		if r.sem == nil {
			r.sem = make(chan struct{}, 1)
		}
		r.done = map[string]*runEntry{}
		if r.Log == nil {
			r.Log = io.Discard
		}
	})
}

// PathName is "3.5.19-to-3.5.21-to-3.6.5-replace", the matrix's name for
// the path: it keeps what the versions alone do not say (a start built
// with member updates, "3.5.21+member-update-to-3.6.5-in-place"), so that
// two risks' different paths over the same versions are never taken for
// one run.
func PathName(p upgrade.Path) string {
	return scenarios.Name(p, "")
}

// Run runs p (or returns the record of the same path run before).
func (r *Runner) Run(ctx context.Context, p upgrade.Path) RunRecord {
	r.init()
	name := PathName(p)
	r.mu.Lock()
	if e, ok := r.done[name]; ok {
		r.mu.Unlock()
		select {
		case <-e.ready:
			return e.rec
		case <-ctx.Done():
			return RunRecord{Name: name, Verdict: upgrade.HarnessError, Cause: ctx.Err().Error()}
		}
	}
	e := &runEntry{ready: make(chan struct{})}
	r.done[name] = e
	r.mu.Unlock()
	defer close(e.ready)

	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		e.rec = RunRecord{Name: name, Verdict: upgrade.HarnessError, Cause: ctx.Err().Error()}
		return e.rec
	}
	defer func() { <-r.sem }()
	for attempt := 1; ; attempt++ {
		e.rec = r.runOnce(ctx, p, name, attempt)
		if e.rec.Verdict != upgrade.HarnessError || attempt > r.Retries || ctx.Err() != nil {
			return e.rec
		}
		fmt.Fprintf(r.Log, "qualify: %s: harness error (%s); running it again (%d of %d)\n", name, e.rec.Cause, attempt+1, r.Retries+1)
	}
}

func (r *Runner) runOnce(ctx context.Context, p upgrade.Path, name string, attempt int) RunRecord {
	dir := filepath.Join(r.ArtifactsDir, "runs", name)
	if attempt > 1 {
		dir = fmt.Sprintf("%s.attempt%d", dir, attempt)
	}
	rec := RunRecord{Name: name, Path: p.Versions(), Strategy: p.StrategyLabel(), Attempts: attempt, Dir: dir}
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		rec.Verdict, rec.Cause = upgrade.HarnessError, err.Error()
		return rec
	}
	logf, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		rec.Verdict, rec.Cause = upgrade.HarnessError, err.Error()
		return rec
	}
	defer logf.Close()
	var log io.Writer = logf
	opts := []process.Option{
		process.WithName(shortName(name)),
		process.WithDir(dir),
		process.WithSnapshotCount(r.SnapshotCount),
		process.WithBinaries(r.Binaries.Get),
		process.WithLog(log),
		process.WithStartTimeout(r.MemberTimeout),
	}
	if !r.Fsync {
		opts = append(opts, process.WithoutFsync())
	}
	cl, err := process.New(opts...)
	if err != nil {
		rec.Verdict, rec.Cause = upgrade.HarnessError, err.Error()
		return rec
	}
	start := time.Now()
	fmt.Fprintf(r.Log, "qualify: run %s (%s)\n", name, strings.Join(p.Versions(), " → "))
	res := upgrade.Run(ctx, upgrade.Input{
		Cluster: cl, Path: p, ArtifactsDir: dir,
		CatchUpWrites: r.CatchUpWrites, StepWrites: r.StepWrites, Log: log,
	})
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	if err := cl.Close(closeCtx); err != nil {
		fmt.Fprintf(log, "closing cluster: %v\n", err)
	}
	cancel()
	rec.Result = res
	rec.Verdict, rec.Seconds, rec.FailedStep, rec.Evidence = res.Verdict, res.Seconds, res.FailedStep, res.Evidence
	if f := res.Failure; f != nil {
		rec.Cause = f.Cause
		if l, ok := f.Headline(); ok {
			rec.Line = ShortLine(l.String())
		}
	} else if len(res.Findings) > 0 {
		rec.Line = ShortLine(res.Findings[0].Check + " check: " + res.Findings[0].Text)
	}
	if b, err := json.MarshalIndent(res, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "result.json"), b, 0o644)
	}
	fmt.Fprintf(r.Log, "qualify: %s: %s in %s%s\n", name, res.Verdict, time.Since(start).Round(time.Second), lineSuffix(rec.Line))
	return rec
}

// stacktraceRE and tsRE drop the parts of a member's JSON log line that
// make it long and say nothing a reader compares: the stack trace, the time.
var (
	stacktraceRE = regexp.MustCompile(`,"stacktrace":"(?:[^"\\]|\\.)*"`)
	tsRE         = regexp.MustCompile(`"ts":"[^"]*",`)
)

// ShortLine is a member's line without its stack trace and time stamp, at
// most 400 characters: the evidence reports quote (result.json keeps it
// whole).
func ShortLine(l string) string {
	l = tsRE.ReplaceAllString(stacktraceRE.ReplaceAllString(l, ""), "")
	return clip(l, 400)
}

func lineSuffix(l string) string {
	if l == "" {
		return ""
	}
	if len(l) > 160 {
		l = l[:160] + "…"
	}
	return ": " + l
}

// shortName makes a member-name prefix from a path name.
func shortName(s string) string {
	s = strings.NewReplacer(".", "", "-to-", "-", "in-place", "ip", "replace", "rp").Replace(s)
	if len(s) > 40 {
		s = s[:40]
	}
	return strings.Trim(s, "-")
}
