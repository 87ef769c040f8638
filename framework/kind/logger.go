package kind

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// logger passes kind's status lines to a writer. Detailed output (V(1)
// and up: kubeadm's own lines) only goes there when verbose.
type logger struct {
	mu      *sync.Mutex
	w       io.Writer
	verbose bool
	enabled bool
	// clock, when set, times the stages kind's status lines report.
	clock *statusClock
}

var _ kindlog.Logger = logger{}

func newLogger(w io.Writer, verbose bool) logger {
	return logger{mu: &sync.Mutex{}, w: w, verbose: verbose, enabled: true}
}

func (l logger) print(prefix, msg string) {
	if !l.enabled {
		return
	}
	if l.clock != nil {
		l.clock.line(msg, time.Now())
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, prefix+strings.TrimRight(msg, "\n"))
}

func (l logger) Warn(m string)             { l.print("kind: WARNING: ", m) }
func (l logger) Warnf(f string, a ...any)  { l.print("kind: WARNING: ", fmt.Sprintf(f, a...)) }
func (l logger) Error(m string)            { l.print("kind: ERROR: ", m) }
func (l logger) Errorf(f string, a ...any) { l.print("kind: ERROR: ", fmt.Sprintf(f, a...)) }
func (l logger) Info(m string)             { l.print("kind: ", m) }
func (l logger) Infof(f string, a ...any)  { l.print("kind: ", fmt.Sprintf(f, a...)) }
func (l logger) Enabled() bool             { return l.enabled }

func (l logger) V(level kindlog.Level) kindlog.InfoLogger {
	v := l
	v.enabled = level <= 0 || l.verbose
	return v
}
