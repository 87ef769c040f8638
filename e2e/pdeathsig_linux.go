package e2e

import "golang.org/x/sys/unix"

// The ginkgo CLI runs this test binary as its child. If the CLI is killed
// (Prow's grace period ending, a kill of `make`), the suite must still get to
// run its cleanup: ask the kernel for SIGTERM when the parent goes away, which
// ginkgo handles as an interrupt.
func init() {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0)
}
