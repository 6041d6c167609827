// Package atomicfile writes files and folders atomically. A file is written into a
// temporary file beside the target, synced, then renamed over it: readers see the
// old file or the new one, never half of one, and a failed write leaves the old file
// as it was. A folder is filled under a temporary name and swapped in (ReplaceDir),
// and LockDir keeps two writers of one folder apart.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write creates or replaces path with what fill writes, atomically. It creates the
// parent folder when missing. The file gets mode 0644. The new name survives a
// power loss once the parent folder is synced (SyncDir): that is left to the caller,
// who may write many files into one folder.
func Write(path string, fill func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = fill(bw); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	for _, step := range []func() error{bw.Flush, func() error { return f.Chmod(0o644) }, f.Sync, f.Close} {
		if err = step(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteBytes writes b to path atomically.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
