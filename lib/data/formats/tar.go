package formats

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ExtractTarGz unpacks the regular files under folder/ in the gzipped tar archive
// into dir/folder, through a temporary folder renamed at the end, so that dir/folder
// appears whole or not at all. Entries outside folder/ are ignored; a path that would
// escape dir is an error, as is an archive with nothing under folder/.
func ExtractTarGz(archive, dir, folder string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", archive, err)
	}
	tmp, err := os.MkdirTemp(dir, ".extract-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tr := tar.NewReader(gz)
	found := false
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", archive, err)
		}
		if !filepath.IsLocal(h.Name) {
			return fmt.Errorf("%s: entry %q escapes the folder", archive, h.Name)
		}
		name := filepath.Clean(h.Name)
		if !strings.HasPrefix(name, folder+string(filepath.Separator)) || h.Typeflag != tar.TypeReg {
			continue
		}
		if err := extractFile(tr, filepath.Join(tmp, name)); err != nil {
			return fmt.Errorf("%s: %s: %w", archive, h.Name, err)
		}
		found = true
	}
	if !found {
		return fmt.Errorf("%s: no files under %s/ in the archive", archive, folder)
	}
	return os.Rename(filepath.Join(tmp, folder), filepath.Join(dir, folder))
}

// extractFile copies the current entry of tr to a new file at target.
func extractFile(tr *tar.Reader, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	out, err := os.Create(target)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, tr)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
