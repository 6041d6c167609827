package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// names are the files of the test source.
var names = []string{"train-images.gz", "train-labels.gz", "test-images.gz", "test-labels.gz"}

// payloads returns the bytes of the files in names: a few kilobytes each, different
// from each other.
func payloads() map[string][]byte {
	files := map[string][]byte{}
	for i, n := range names {
		b := make([]byte, 3000+500*i)
		for j := range b {
			b[j] = byte(j*(i+3) + j/7)
		}
		files[n] = b
	}
	return files
}

// server serves files with range support and counts requests.
func server(files map[string][]byte, hits *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
	}))
}

func sourceFor(url string, files map[string][]byte, names ...string) Source {
	src := Source{Name: "tiny", Install: "install tiny"}
	for _, n := range names {
		src.Files = append(src.Files, RemoteFile{Name: n, URL: url + "/" + n, SHA256: sha(files[n])})
	}
	return src
}

func TestFetchDownloadsVerifiesAndCaches(t *testing.T) {
	files := payloads()
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	cache := t.TempDir()
	src := sourceFor(srv.URL, files, names...)
	dir, err := Fetch(context.Background(), src, Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if got, err := os.ReadFile(filepath.Join(dir, n)); err != nil || !bytes.Equal(got, files[n]) {
			t.Errorf("%s: downloaded file differs from the served one (%v)", n, err)
		}
	}
	if hits.Load() != 4 {
		t.Errorf("%d requests, want 4", hits.Load())
	}
	if _, err := Fetch(context.Background(), src, Options{CacheDir: cache}); err != nil || hits.Load() != 4 {
		t.Errorf("second fetch: %v, %d requests: want the cache, no request", err, hits.Load())
	}
}

func TestFetchResumesPartialDownload(t *testing.T) {
	files := payloads()
	var hits atomic.Int32
	var ranges atomic.Int32
	inner := server(files, &hits)
	defer inner.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			ranges.Add(1)
		}
		inner.Config.Handler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cache := t.TempDir()
	name := names[0]
	os.MkdirAll(filepath.Join(cache, "tiny"), 0o755)
	os.WriteFile(filepath.Join(cache, "tiny", name+".part"), files[name][:40], 0o644)
	if _, err := Fetch(context.Background(), sourceFor(srv.URL, files, name), Options{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(cache, "tiny", name))
	if !bytes.Equal(got, files[name]) || ranges.Load() != 1 {
		t.Errorf("resumed file equal: %v, range requests: %d (want 1)", bytes.Equal(got, files[name]), ranges.Load())
	}
}

func TestFetchRejectsBadChecksum(t *testing.T) {
	files := payloads()
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	cache := t.TempDir()
	src := sourceFor(srv.URL, files, names[0])
	src.Files[0].SHA256 = strings.Repeat("0", 64)
	_, err := Fetch(context.Background(), src, Options{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "SHA-256 checksum") || !strings.Contains(err.Error(), names[0]) {
		t.Fatalf("error %v: want a checksum error naming the file", err)
	}
	if _, err := os.Stat(filepath.Join(cache, "tiny", names[0])); err == nil {
		t.Error("a file with a bad checksum landed in the cache")
	}
}

func TestFetchOfflineSaysWhatToDo(t *testing.T) {
	files := payloads()
	var hits atomic.Int32
	srv := server(files, &hits)
	url := srv.URL
	srv.Close() // nothing listens there any more
	cache := t.TempDir()
	_, err := Fetch(context.Background(), sourceFor(url, files, names...), Options{CacheDir: cache})
	if err == nil || !strings.Contains(err.Error(), "offline? put train-images.gz, train-labels.gz") ||
		!strings.Contains(err.Error(), filepath.Join(cache, "tiny")) || !strings.Contains(err.Error(), "install tiny") {
		t.Fatalf("offline error %v", err)
	}
}

// fetchAfterPart fetches the first IDX file of a local server into a cache that
// holds part as the file's partial download, and returns what landed and the number
// of requests.
func fetchAfterPart(t *testing.T, part func(whole []byte) []byte) (got, want []byte, requests int32) {
	files := payloads()
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	cache := t.TempDir()
	name := names[0]
	os.MkdirAll(filepath.Join(cache, "tiny"), 0o755)
	os.WriteFile(filepath.Join(cache, "tiny", name+".part"), part(bytes.Clone(files[name])), 0o644)
	if _, err := Fetch(context.Background(), sourceFor(srv.URL, files, name), Options{CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(filepath.Join(cache, "tiny", name))
	return got, files[name], hits.Load()
}

// A part that is already whole (the process stopped after the last byte, before the
// rename) lands without a request: asking for the bytes after it would get HTTP 416.
func TestFetchCompletePartLandsWithoutARequest(t *testing.T) {
	got, want, requests := fetchAfterPart(t, func(whole []byte) []byte { return whole })
	if !bytes.Equal(got, want) || requests != 0 {
		t.Errorf("file equal: %v, %d requests: want the part renamed and no request", bytes.Equal(got, want), requests)
	}
}

// A part as long as the file but corrupt gets HTTP 416 for its range: the download
// starts over instead of failing every later run.
func TestFetchCorruptFullPartStartsOver(t *testing.T) {
	got, want, requests := fetchAfterPart(t, func(whole []byte) []byte { whole[len(whole)/2] ^= 0xff; return whole })
	if !bytes.Equal(got, want) || requests != 2 {
		t.Errorf("file equal: %v, %d requests: want a refused range, then the whole file", bytes.Equal(got, want), requests)
	}
}

// A server that stops sending mid-file is given up on after the idle timeout, and the
// part received is kept.
func TestFetchStalledServerTimesOut(t *testing.T) {
	files := payloads()
	name := names[0]
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := files[name]
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cache := t.TempDir()
	done := make(chan error, 1)
	go func() {
		_, err := Fetch(context.Background(), sourceFor(srv.URL, files, name), Options{CacheDir: cache, IdleTimeout: 300 * time.Millisecond})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "sent nothing for 300ms") || !strings.Contains(err.Error(), ".part to resume") {
			t.Errorf("stalled download: %v; want the idle timeout named and the part kept", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled download still hangs after 20 s with a 300 ms idle timeout")
	}
	if st, err := os.Stat(filepath.Join(cache, "tiny", name+".part")); err != nil || st.Size() != int64(len(files[name])/2) {
		t.Errorf("the part received was not kept: %v", err)
	}
}

// After HTTP 416 the download starts over with an idle timer of its own: a restart
// that keeps receiving is not stopped by the first request's timer.
func TestFetchRestartAfter416HasItsOwnIdleTimer(t *testing.T) {
	body := make([]byte, 10*1024)
	sum := sha256.Sum256(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") != "" {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		for i := range 10 { // 1 KiB every 100 ms: never idle for 300 ms
			w.Write(body[i*1024 : (i+1)*1024])
			w.(http.Flusher).Flush()
			time.Sleep(100 * time.Millisecond)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	f := RemoteFile{Name: "x.bin", URL: srv.URL + "/x.bin", SHA256: hex.EncodeToString(sum[:])}
	os.MkdirAll(filepath.Join(dir, "src"), 0o755)
	os.WriteFile(filepath.Join(dir, "src", "x.bin.part"), make([]byte, 20*1024), 0o644) // longer than the file
	_, err := Fetch(context.Background(), Source{Name: "src", Files: []RemoteFile{f}}, Options{CacheDir: dir, IdleTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("a download restarted after HTTP 416 failed while data kept arriving: %v", err)
	}
}

// recorder is a Progress that writes down what it is told.
type recorder struct {
	events []string
	bytes  int64
}

func (r *recorder) Start(file string, have, total int64) {
	r.events = append(r.events, fmt.Sprintf("start %s %d/%d", file, have, total))
}
func (r *recorder) Add(n int64) { r.bytes += n }
func (r *recorder) Done()       { r.events = append(r.events, fmt.Sprintf("done after %d bytes", r.bytes)) }

// A resumed download tells its progress the bytes it had, the whole size, each byte
// that arrives, and its end.
func TestFetchReportsProgress(t *testing.T) {
	files := payloads()
	var hits atomic.Int32
	srv := server(files, &hits)
	defer srv.Close()
	cache := t.TempDir()
	name := names[1]
	os.MkdirAll(filepath.Join(cache, "tiny"), 0o755)
	os.WriteFile(filepath.Join(cache, "tiny", name+".part"), files[name][:1000], 0o644)
	var rec recorder
	if _, err := Fetch(context.Background(), sourceFor(srv.URL, files, name), Options{CacheDir: cache, Progress: &rec}); err != nil {
		t.Fatal(err)
	}
	size := len(files[name])
	want := fmt.Sprintf("[start %s 1000/%d done after %d bytes]", name, size, size-1000)
	if got := fmt.Sprint(rec.events); got != want {
		t.Errorf("progress told %s, want %s", got, want)
	}
}
