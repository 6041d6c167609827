// Package fetch downloads the files of a dataset into a cache folder: each file is
// checked against its published checksum, resumed from its partial download when
// interrupted (HTTP range requests), given up on when the server sends nothing for a
// while, and lands by rename only once verified. It also finds a Go module's folder in
// the module cache (some datasets are published as Go modules).
//
// It prints nothing: a caller that wants a progress bar passes one as
// Options.Progress (cmd/walkthrough passes lib/progress's).
package fetch

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// RemoteFile is one file of a downloadable dataset.
type RemoteFile struct {
	Name   string // file name in the cache folder
	URL    string
	SHA256 string // hex; checked when set
	MD5    string // hex; checked when set (CIFAR-10's publisher gives MD5 only)
}

// Source is a downloadable dataset: the files that make it, fetched into the cache
// folder CacheDir/Name.
type Source struct {
	Name    string
	Files   []RemoteFile
	Install string // what to install, or where to put the files, when offline
}

// Progress is told how a download goes; lib/progress's Downloads draws it as a bar.
type Progress interface {
	// Start is called when a file's download starts: have bytes are there already (a
	// resumed download), total is the whole file's size (-1: unknown).
	Start(file string, have, total int64)
	// Add is called as n more bytes arrive.
	Add(n int64)
	// Done is called when the file's download stops, finished or not.
	Done()
}

// Options configures Fetch. The zero value downloads into DefaultCacheDir, silently.
type Options struct {
	CacheDir string       // default: DefaultCacheDir()
	Client   *http.Client // default: a client with connection and header time-outs
	// IdleTimeout stops a download that receives nothing for this long (a stalled
	// server); the part received is kept to resume. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Progress, when set, is told how each download goes.
	Progress Progress
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

// Fetch downloads src's files into CacheDir/src.Name, unless they are there already,
// and returns that folder. An error for an offline machine says which files to put
// where, or what to install (src.Install).
func Fetch(ctx context.Context, src Source, opts Options) (string, error) {
	cache := opts.CacheDir
	if cache == "" {
		cache = DefaultCacheDir()
	}
	dir := filepath.Join(cache, src.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("fetching %s: cache folder: %w", src.Name, err)
	}
	d := downloader{client: opts.Client, idle: opts.IdleTimeout, progress: opts.Progress}
	if d.client == nil {
		d.client = &http.Client{Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSHandshakeTimeout: 15 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		}}
	}
	if d.idle <= 0 {
		d.idle = DefaultIdleTimeout
	}
	for _, f := range src.Files {
		path := filepath.Join(dir, f.Name)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := d.download(ctx, f, path); err != nil {
			var names []string
			for _, f := range src.Files {
				names = append(names, f.Name)
			}
			return "", fmt.Errorf("fetching %s: %w\n  offline? put %s in %s, or %s", src.Name, err, strings.Join(names, ", "), dir, src.Install)
		}
	}
	return dir, nil
}

// downloader downloads one file after another with the same client and settings.
type downloader struct {
	client   *http.Client
	idle     time.Duration
	progress Progress
}

// errStalled is the cause of a download cancelled for receiving nothing.
var errStalled = errors.New("stalled")

// errRangeRefused is downloadOnce's error for HTTP 416 on a resumed download.
var errRangeRefused = errors.New("the server refused the range after the partial file")

func (d downloader) download(ctx context.Context, f RemoteFile, path string) error {
	part := path + ".part"
	if _, err := os.Stat(part); err == nil && verify(part, f) == nil {
		// The part is whole (the process stopped after the last byte, before the
		// rename): asking the server for what follows it would get HTTP 416.
		return os.Rename(part, path)
	}
	err := d.downloadOnce(ctx, f, part)
	if errors.Is(err, errRangeRefused) {
		// The part is as long as the file, or longer, yet does not verify: start over.
		if err := os.Remove(part); err != nil {
			return fmt.Errorf("downloading %s: %w", f.URL, err)
		}
		err = d.downloadOnce(ctx, f, part)
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

// downloadOnce makes one request for f, appending to part when it exists (an HTTP
// range request) and stopping when nothing arrives for d.idle.
func (d downloader) downloadOnce(ctx context.Context, f RemoteFile, part string) error {
	have := int64(0)
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timer := time.AfterFunc(d.idle, func() { cancel(errStalled) })
	defer timer.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", f.URL, err)
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errStalled) {
			return fmt.Errorf("downloading %s: the server sent nothing for %s", f.URL, d.idle)
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
	if d.progress != nil {
		total := int64(-1)
		if resp.ContentLength >= 0 {
			total = have + resp.ContentLength
		}
		d.progress.Start(f.Name, have, total)
		defer d.progress.Done()
	}
	_, err = io.Copy(out, &watchedReader{r: resp.Body, progress: d.progress, timer: timer, idle: d.idle})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if errors.Is(context.Cause(ctx), errStalled) {
		err = fmt.Errorf("the server sent nothing for %s", d.idle)
	}
	if err != nil {
		return fmt.Errorf("downloading %s (kept %s to resume): %w", f.URL, part, err)
	}
	return nil
}

// watchedReader restarts the idle timer and tells the progress as data arrives.
type watchedReader struct {
	r        io.Reader
	progress Progress
	timer    *time.Timer
	idle     time.Duration
}

func (c *watchedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.timer.Reset(c.idle)
		if c.progress != nil {
			c.progress.Add(int64(n))
		}
	}
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

// GoModuleDir returns the folder of a module (path@version) in the module cache,
// downloading it through the Go module proxy when needed (`go mod download`).
func GoModuleDir(ctx context.Context, module string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", module).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", module, strings.TrimSpace(info.Error))
	}
	return info.Dir, nil
}
