package cluster

import (
	"encoding/json"
	"strings"
)

// EvidenceLine picks the line of an etcd log that explains why the member
// failed: the first fatal or panic entry (zap JSON), else a Go "panic:" line,
// else the warning or error the member repeated most (a member stuck in a loop,
// e.g. "failed to publish local member to cluster through raft", says so
// thousands of times), else the last error. It returns "" when nothing looks
// like a failure. Lines are returned as etcd wrote them, so a report quotes the
// member itself.
func EvidenceLine(log string) string {
	lines := strings.Split(log, "\n")
	var lastErr, lastPanic string
	repeats := map[string]int{}
	firstOf := map[string]string{}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if strings.HasPrefix(l, "panic: ") {
			lastPanic = l
			continue
		}
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var e struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Error string `json:"error"`
		}
		if json.Unmarshal([]byte(l), &e) != nil {
			continue
		}
		switch e.Level {
		case "fatal", "panic", "dpanic":
			return l
		case "error":
			lastErr = l
		}
		if (e.Level == "warn" || e.Level == "error") && e.Error != "" && !ignoredRepeat(e.Msg) {
			k := e.Msg + "\x00" + e.Error
			repeats[k]++
			if _, ok := firstOf[k]; !ok {
				firstOf[k] = l
			}
		}
	}
	if lastPanic != "" {
		return lastPanic
	}
	best, n := "", 0
	for k, c := range repeats {
		if c > n || (c == n && k < best) {
			best, n = k, c
		}
	}
	if n >= repeatThreshold {
		return firstOf[best]
	}
	return lastErr
}

// repeatThreshold is how often a warning must recur to count as the reason a
// member is stuck rather than noise.
const repeatThreshold = 20

// ignoredRepeat lists messages that recur whenever a peer is down; they
// describe the neighbours, not the member.
func ignoredRepeat(msg string) bool {
	for _, m := range []string{"prober detected unhealthy status", "lost TCP streaming connection", "peer became inactive", "failed to dial", "failed to reach the peer URL", "rejected connection"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// Summary shortens a zap JSON log line to "msg: error" for tables; other
// lines come back unchanged.
func Summary(line string) string {
	var e struct {
		Msg   string `json:"msg"`
		Error string `json:"error"`
	}
	if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &e) != nil || e.Msg == "" {
		return line
	}
	if e.Error == "" {
		return e.Msg
	}
	return e.Msg + ": " + e.Error
}
