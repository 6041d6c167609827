//go:build unix

package atomicfile

import (
	"fmt"
	"os"
	"syscall"
)

// LockDir takes an exclusive lock on the folder dir, waiting while another process
// (or goroutine) holds it, and returns the function that releases it. The lock is
// advisory: it keeps out only writers that take it too. It ends with the process
// that holds it, even one killed, so a lock is never left behind.
func LockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil // closing the descriptor releases the lock
}
