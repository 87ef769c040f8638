package process

import (
	"fmt"
	"io"
	"os"
)

// maxLogBytes bounds a member log kept as an artifact. A member stuck in a
// retry loop writes about 100 MB a minute; its head (start-up) and tail (the
// end) are what a reader needs.
const maxLogBytes = 16 << 20

// capLog keeps the first and last half of limit bytes of a longer file, with
// a line saying how much was cut.
func capLog(path string, limit int64) error {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() <= limit {
		return err
	}
	half := limit / 2
	tmp := path + ".cap"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if _, err := io.CopyN(out, f, half); err != nil {
		out.Close()
		return err
	}
	fmt.Fprintf(out, "\n# ... %d bytes cut by the harness ...\n", st.Size()-2*half)
	if _, err := f.Seek(-half, io.SeekEnd); err != nil {
		out.Close()
		return err
	}
	if _, err := io.Copy(out, f); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
