package process

import (
	"os/exec"
	"runtime"
)

// startLocked starts cmd and calls onExit with its Wait result. Pdeathsig
// fires when the thread that forked the child exits, not the process: the
// child is started from a goroutine locked to its OS thread, which stays
// locked (so the Go scheduler cannot retire the thread) until the child exits.
func startLocked(cmd *exec.Cmd, onExit func(error)) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		errc <- nil
		onExit(cmd.Wait())
		// Exiting while locked ends this thread, which is harmless now.
	}()
	return <-errc
}
