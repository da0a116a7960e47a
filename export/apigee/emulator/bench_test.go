package emulator

import (
	"io"
	"net/http"
	"net/url"
	"testing"

	"google.golang.org/protobuf/proto"
)

// benchmarkPages reads a whole list through real HTTP, page by page, the way
// an exporter does, and reports records per second.
func benchmarkPages(b *testing.B, d *Data, path string, perPage int, pageURL func(token string) string) {
	s, err := Start(d, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	base := orgURL(s, "acme") + path
	records, bytes := 0, int64(0)
	for b.Loop() {
		tok := ""
		for {
			res, err := http.Get(base + pageURL(tok))
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			bytes += int64(len(body))
			if res.StatusCode != http.StatusOK {
				b.Fatalf("HTTP %d: %.200s", res.StatusCode, body)
			}
			records += perPage
			next := extractToken(body)
			if next == "" {
				break
			}
			tok = next
		}
	}
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	b.SetBytes(bytes / int64(b.N))
}

// extractToken finds nextPageToken without decoding the page, so that the
// benchmark measures the server rather than the client's JSON decoding.
func extractToken(body []byte) string {
	const key = `"nextPageToken":"`
	for i := len(body) - 1; i >= len(key); i-- {
		if string(body[i-len(key):i]) == key {
			for j := i; j < len(body); j++ {
				if body[j] == '"' {
					return string(body[i:j])
				}
			}
		}
	}
	return ""
}

// BenchmarkListApps pages 20,000 apps with credentials, 1000 a page.
func BenchmarkListApps(b *testing.B) {
	d := Generate(GenerateSpec{Developers: 2000, Apps: 20_000, APIProducts: 50, Seed: 1})
	for _, a := range d.Orgs[0].Apps {
		a.Status = proto.String("approved") // every page full
	}
	benchmarkPages(b, d, "/apps", 1000, func(tok string) string {
		u := "?expand=true&includeCred=true&pageSize=1000"
		if tok != "" {
			u += "&pageToken=" + url.QueryEscape(tok)
		}
		return u
	})
}

// BenchmarkListDevelopersPage serves one expanded page of 1000 developers.
func BenchmarkListDevelopersPage(b *testing.B) {
	d := Generate(GenerateSpec{Developers: 1000, Seed: 1})
	s, err := Start(d, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	u := orgURL(s, "acme") + "/developers?expand=true&count=1000"
	for b.Loop() {
		res, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatal(res.Status)
		}
		b.SetBytes(n)
	}
	b.ReportMetric(1000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
