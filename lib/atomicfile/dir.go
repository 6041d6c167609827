package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// SyncDir flushes a folder's entries to disk: once it returns, the names created,
// renamed or removed in dir survive a power loss.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing folder %s: %w", dir, err)
	}
	return nil
}

// syncTree flushes every file and folder under root to disk, root included.
func syncTree(root string) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil // a link or a device: nothing of its own to flush
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
}

// ReplaceDir makes the complete folder tmp appear as final, durably: it flushes
// tmp's files and folders to disk, renames tmp to final and syncs their parent
// folder. When final exists, the two are exchanged in one step where the system can
// (Linux's renameat2 with RENAME_EXCHANGE), so a reader always finds a complete
// final, the old one or the new; elsewhere the old final is first renamed aside (to
// tmp's name + "-old"), leaving a moment without final. The old folder is then
// removed; what cannot be removed stays under tmp's name (or the aside name) for the
// caller to clean up. tmp and final must be in the same folder.
func ReplaceDir(tmp, final string) error {
	if filepath.Dir(tmp) != filepath.Dir(final) {
		return fmt.Errorf("replacing %s with %s: want two folders of one parent", final, tmp)
	}
	parent := filepath.Dir(final)
	if err := syncTree(tmp); err != nil {
		return fmt.Errorf("replacing %s: flushing %s: %w", final, tmp, err)
	}
	_, err := os.Lstat(final)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("replacing %s: %w", final, err)
		}
		return SyncDir(parent)
	case err != nil:
		return fmt.Errorf("replacing %s: %w", final, err)
	}
	if exchange(tmp, final) == nil {
		if err := SyncDir(parent); err != nil {
			return err
		}
		os.RemoveAll(tmp) // now the old folder
		return nil
	}
	return replaceAside(tmp, final)
}

// replaceAside replaces final with tmp in two renames, the old final first renamed
// aside, then removed.
func replaceAside(tmp, final string) error {
	aside := tmp + "-old"
	if err := os.Rename(final, aside); err != nil {
		return fmt.Errorf("replacing %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Rename(aside, final) // put the old one back
		return fmt.Errorf("replacing %s: %w", final, err)
	}
	if err := SyncDir(filepath.Dir(final)); err != nil {
		return err
	}
	os.RemoveAll(aside)
	return nil
}
