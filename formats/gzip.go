package formats

import (
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"google.golang.org/protobuf/proto"
)

// gzipLevel is fixed so that the same records always compress to the same
// bytes: a resumed object must continue byte-identically, and digests in
// the manifest must be reproducible.
const gzipLevel = 6

// gzipStream is the io.Writer the text encoders write into when the object
// is gzipped. Each Flush of the encoder ends the current gzip member, so the
// object so far is a complete multi-member gzip file that a resumed encoder
// can append new members to (gzip readers concatenate members).
type gzipStream struct {
	w       io.Writer
	gz      *gzip.Writer
	open    bool // a member is started and has data not yet ended
	members bool // this stream, or the object it resumes, holds a member
}

func newGzipStream(w io.Writer, resumed bool) (*gzipStream, error) {
	gz, err := gzip.NewWriterLevel(w, gzipLevel)
	if err != nil {
		return nil, fmt.Errorf("gzip level %d: %w", gzipLevel, err)
	}
	return &gzipStream{w: w, gz: gz, members: resumed}, nil
}

// Write starts a member lazily, so that a Flush with nothing new written
// adds no empty member (and an encoder writes nothing before it has data).
func (s *gzipStream) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !s.open {
		s.gz.Reset(s.w)
		s.open = true
	}
	return s.gz.Write(p)
}

// endMember writes the current member's trailer to w.
func (s *gzipStream) endMember() error {
	if !s.open {
		return nil
	}
	s.open = false
	s.members = true
	if err := s.gz.Close(); err != nil {
		return fmt.Errorf("gzip: %w", err)
	}
	return nil
}

// finish ends the object. An object that never got a byte is still written
// as one empty member, so that it is a valid (empty) gzip file.
func (s *gzipStream) finish() error {
	if !s.open && !s.members {
		s.gz.Reset(s.w)
		s.open = true
	}
	return s.endMember()
}

// gzipEncoder wraps a text encoder writing into a gzipStream.
type gzipEncoder struct {
	inner  Encoder
	stream *gzipStream
}

func (e *gzipEncoder) Encode(m proto.Message) error { return e.inner.Encode(m) }

func (e *gzipEncoder) Flush() error {
	if err := e.inner.Flush(); err != nil {
		return err
	}
	return e.stream.endMember()
}

func (e *gzipEncoder) Close() error {
	if err := e.inner.Close(); err != nil {
		return err
	}
	return e.stream.finish()
}
