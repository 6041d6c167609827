package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestFailedWriteKeepsTheOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "f.json")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("half of the new"))
		return errors.New("disk full")
	})
	if err == nil {
		t.Fatal("the failing write reported no error")
	}
	b, _ := os.ReadFile(path)
	if string(b) != "old" {
		t.Errorf("file holds %q after a failed write, want the old content", b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files left in the folder, want only the target", len(entries))
	}
	if err := WriteBytes(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("file holds %q, want new", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

// TestReplaceDirNeverLeavesAGap swaps a folder again and again while readers read a
// file in it: every read finds the file, old or new, never a missing folder.
func TestReplaceDirNeverLeavesAGap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skipf("the swap in one step needs Linux's renameat2 (this is %s)", runtime.GOOS)
	}
	dir := t.TempDir()
	final := filepath.Join(dir, "epoch-0001")
	if err := WriteBytes(filepath.Join(final, "v"), []byte("0")); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var misses, reads atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := os.ReadFile(filepath.Join(final, "v")); err != nil {
					misses.Add(1)
				}
				reads.Add(1)
			}
		}()
	}
	for i := range 200 {
		tmp, err := os.MkdirTemp(dir, ".saving-*")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "v"), []byte(strconv.Itoa(i+1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := ReplaceDir(tmp, final); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the old folder is left under the temporary name %s: %v", tmp, err)
		}
	}
	close(stop)
	wg.Wait()
	if b, _ := os.ReadFile(filepath.Join(final, "v")); string(b) != "200" || misses.Load() > 0 {
		t.Errorf("after 200 swaps %s holds %q (want 200); %d of %d reads found no file", final, b, misses.Load(), reads.Load())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left beside the folder, want it alone", len(entries))
	}
}

func TestReplaceDirWithoutAnOldFolder(t *testing.T) {
	dir := t.TempDir()
	tmp, final := filepath.Join(dir, ".new"), filepath.Join(dir, "final")
	if err := WriteBytes(filepath.Join(tmp, "f"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(tmp, final); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(final, "f")); err != nil || string(b) != "x" {
		t.Errorf("final/f: %q, %v", b, err)
	}
	// Where the system cannot swap in one step: the old folder renamed aside.
	if err := WriteBytes(filepath.Join(tmp, "f"), []byte("y")); err != nil {
		t.Fatal(err)
	}
	if err := replaceAside(tmp, final); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(final, "f")); err != nil || string(b) != "y" {
		t.Errorf("final/f after a replacement aside: %q, %v", b, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries left after a replacement aside, want final alone", len(entries))
	}
	if err := ReplaceDir(filepath.Join(dir, "a", "x"), final); err == nil {
		t.Error("folders of two parents were accepted")
	}
}

func TestLockDirKeepsWritersApart(t *testing.T) {
	dir := t.TempDir()
	unlock, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan struct{})
	go func() {
		u, err := LockDir(dir)
		if err != nil {
			t.Error(err)
		} else {
			u()
		}
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("a second LockDir got the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the second LockDir still waits after the first released the lock")
	}
}
