package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"pubexport/cmd/pubexport-bench/internal/report"
	"pubexport/export/apigee"
	"pubexport/export/apigee/emulator"
	"pubexport/formats"
)

// encodeFormats are the formats measured, each with its default
// compression (none for the text formats, Zstd for Parquet).
var encodeFormats = []formats.Format{formats.JSON, formats.NDJSON, formats.CSV, formats.Parquet}

// benchEncode measures each encoder alone, in this process, on generated
// records, against protojson.Marshal of the same messages: what the
// encoders cost without any I/O.
func benchEncode(ctx context.Context, h *harness) error {
	n := h.cfg.encodeRecords
	data := emulator.Generate(emulator.GenerateSpec{Org: benchOrg, Developers: n, Apps: n, APIProducts: 1, Seed: 1})
	if len(data.Orgs) == 0 {
		return fmt.Errorf("the emulator generated no organization")
	}
	org := data.Orgs[0]
	sets := []struct {
		r    apigee.Resource
		msgs []proto.Message
	}{
		{apigee.Apps, asMessages(org.Apps)},
		{apigee.Developers, asMessages(org.Developers)},
	}
	for _, set := range sets {
		if ctx.Err() != nil {
			h.rep.Skip("encode", string(set.r), "time budget spent")
			continue
		}
		h.logf("encode: %s, %d messages", set.r, len(set.msgs))
		base, err := measure(h.cfg.encodeMinTime, set.msgs, func(w io.Writer) (encoder, error) { return protojsonEncoder{w}, nil })
		if err != nil {
			return fmt.Errorf("protojson baseline: %w", err)
		}
		h.rep.Add(report.Row{
			Section: "encode", Case: fmt.Sprintf("%s protojson.Marshal (baseline)", set.r),
			Value: base.recPerS(), Unit: report.RecordsPerS,
			Note:  fmt.Sprintf("%.1f MB/s, %.0f B/record", base.mbPerS(), base.bytesPerRecord()),
			Extra: map[string]float64{"MBps": base.mbPerS()},
		})
		md := set.r.Descriptor()
		for _, f := range encodeFormats {
			name := fmt.Sprintf("%s %s", set.r, f)
			m, err := measure(h.cfg.encodeMinTime, set.msgs, func(w io.Writer) (encoder, error) {
				return formats.NewEncoder(w, f, md, formats.Options{})
			})
			if err != nil {
				h.rep.Skip("encode", name, "error: "+err.Error())
				continue
			}
			h.rep.Add(report.Row{
				Section: "encode", Case: name,
				Value: m.recPerS(), Unit: report.RecordsPerS,
				Reference: base.recPerS(), ReferenceName: "protojson",
				Note:  fmt.Sprintf("%.1f MB/s out, %.0f B/record", m.mbPerS(), m.bytesPerRecord()),
				Extra: map[string]float64{"MBps": m.mbPerS()},
			})
		}
	}
	return nil
}

func asMessages[M proto.Message](in []M) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

// encoder is the part of formats.Encoder the measurement uses.
type encoder interface {
	Encode(proto.Message) error
	Close() error
}

// protojsonEncoder is the baseline: one protojson.Marshal per record.
type protojsonEncoder struct{ w io.Writer }

func (e protojsonEncoder) Encode(m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	_, err = e.w.Write(b)
	return err
}

func (protojsonEncoder) Close() error { return nil }

type throughput struct {
	records int64
	bytes   int64
	elapsed time.Duration
}

func (t throughput) recPerS() float64 { return float64(t.records) / t.elapsed.Seconds() }
func (t throughput) mbPerS() float64  { return float64(t.bytes) / 1e6 / t.elapsed.Seconds() }
func (t throughput) bytesPerRecord() float64 {
	if t.records == 0 {
		return 0
	}
	return float64(t.bytes) / float64(t.records)
}

// measure encodes msgs into one object, over and over until minTime has
// passed, so that short runs still give a stable rate.
func measure(minTime time.Duration, msgs []proto.Message, open func(io.Writer) (encoder, error)) (throughput, error) {
	var cw countingWriter
	enc, err := open(&cw)
	if err != nil {
		return throughput{}, err
	}
	// One untimed pass first: lazy initialisation (field plans, pools,
	// the first row group) is not throughput.
	for _, m := range msgs {
		if err := enc.Encode(m); err != nil {
			return throughput{}, err
		}
	}
	warm := cw.n
	var t throughput
	t0 := time.Now()
	for t.records == 0 || time.Since(t0) < minTime {
		for _, m := range msgs {
			if err := enc.Encode(m); err != nil {
				return throughput{}, err
			}
		}
		t.records += int64(len(msgs))
	}
	if err := enc.Close(); err != nil {
		return throughput{}, err
	}
	t.elapsed = time.Since(t0)
	t.bytes = cw.n - warm
	return t, nil
}

// countingWriter discards bytes and counts them.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
