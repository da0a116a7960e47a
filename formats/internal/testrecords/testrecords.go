// Package testrecords builds the messages the formats tests and benchmarks
// encode: fixed ones for golden files, random ones that reach every corner
// of protojson's rules, and records shaped like Apigee apps. It uses the
// test-only testpb types and dynamic descriptors, never Apigee's types:
// the formats know protobuf, not Apigee.
package testrecords

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/proto"

	"pubexport/formats/internal/testpb"
)

// Fixed returns a few hand-written messages covering presence, every
// scalar kind, nesting, lists, maps and characters that need escaping or
// quoting. Golden files are made from them, so change them only with the
// goldens.
func Fixed() []*testpb.Everything {
	return []*testpb.Everything{
		{
			Name:     proto.String(`Ada "the first", programmer`),
			Count:    proto.Int64(9007199254740993),
			Small:    proto.Int32(-42),
			Big:      proto.Uint64(math.MaxUint64),
			Usmall:   proto.Uint32(math.MaxUint32),
			Signed:   proto.Int64(math.MinInt64),
			Fixed:    proto.Uint64(7),
			Flag:     proto.Bool(true),
			Ratio:    proto.Float64(0.1),
			Fraction: proto.Float32(1.5),
			Blob:     []byte{0, 1, 2, 0xfe, 0xff},
			Color:    testpb.Everything_GREEN.Enum(),
			Child: &testpb.Child{Key: proto.String("k"), Value: proto.String("v"),
				Favourite: &testpb.Grandchild{Label: proto.String("fav"), Weight: proto.Int64(3)}},
			Children: []*testpb.Child{
				{Key: proto.String("a"), Grandchildren: []*testpb.Grandchild{
					{Label: proto.String("g1"), Methods: []string{"GET", "POST"}},
					{Label: proto.String("g2")},
				}},
				{Value: proto.String("line1\nline2\r\nend\ttab")},
			},
			Tags:       []string{"x", "", "ünïcødé ✓", "<&>"},
			Numbers:    []int64{1, -1, 0},
			Plain:      "=SUM(A1:A2)",
			PlainCount: 12,
			Labels:     map[string]string{"zeta": "last", "alpha": "first", "": "empty key"},
		},
		{}, // nothing set: every optional is null/empty, every list empty
		{
			Name:     proto.String(""),
			Count:    proto.Int64(0),
			Flag:     proto.Bool(false),
			Ratio:    proto.Float64(math.Inf(-1)),
			Fraction: proto.Float32(float32(math.NaN())),
			Blob:     []byte{},
			Color:    testpb.Everything_Color(7).Enum(), // a number newer than the schema
			Child:    &testpb.Child{},
			Children: []*testpb.Child{{}, {Grandchildren: []*testpb.Grandchild{{Methods: []string{""}}}}},
			Plain:    "-1+1 @mention\x01\x1f\u2028",
		},
		{
			Ratio:    proto.Float64(1e21),
			Fraction: proto.Float32(1e-7),
			Signed:   proto.Int64(-1),
			Tags:     []string{"a,b", `"q"`, "|pipe|"},
			Labels:   map[string]string{"k": ""},
		},
	}
}

// Random returns a message with each field set or not at random, with
// values drawn to exercise escaping, float formatting and presence.
func Random(r *rand.Rand) *testpb.Everything {
	m := &testpb.Everything{}
	if r.IntN(2) == 0 {
		m.Name = proto.String(randString(r))
	}
	if r.IntN(2) == 0 {
		m.Count = proto.Int64(randInt64(r))
	}
	if r.IntN(2) == 0 {
		m.Small = proto.Int32(int32(randInt64(r)))
	}
	if r.IntN(2) == 0 {
		m.Big = proto.Uint64(uint64(randInt64(r)))
	}
	if r.IntN(2) == 0 {
		m.Usmall = proto.Uint32(uint32(randInt64(r)))
	}
	if r.IntN(2) == 0 {
		m.Signed = proto.Int64(randInt64(r))
	}
	if r.IntN(2) == 0 {
		m.Fixed = proto.Uint64(r.Uint64())
	}
	if r.IntN(2) == 0 {
		m.Flag = proto.Bool(r.IntN(2) == 0)
	}
	if r.IntN(2) == 0 {
		m.Ratio = proto.Float64(randFloat(r))
	}
	if r.IntN(2) == 0 {
		m.Fraction = proto.Float32(float32(randFloat(r)))
	}
	if r.IntN(2) == 0 {
		m.Blob = []byte(randString(r))
	}
	if r.IntN(2) == 0 {
		m.Color = testpb.Everything_Color(r.IntN(4)).Enum()
	}
	if r.IntN(2) == 0 {
		m.Child = randChild(r)
	}
	for range r.IntN(4) {
		m.Children = append(m.Children, randChild(r))
	}
	for range r.IntN(4) {
		m.Tags = append(m.Tags, randString(r))
	}
	for range r.IntN(4) {
		m.Numbers = append(m.Numbers, randInt64(r))
	}
	if r.IntN(2) == 0 {
		m.Plain = randString(r)
	}
	if r.IntN(2) == 0 {
		m.PlainCount = randInt64(r)
	}
	if n := r.IntN(4); n > 0 {
		m.Labels = make(map[string]string, n)
		for range n {
			m.Labels[randString(r)] = randString(r)
		}
	}
	return m
}

func randChild(r *rand.Rand) *testpb.Child {
	c := &testpb.Child{}
	if r.IntN(2) == 0 {
		c.Key = proto.String(randString(r))
	}
	if r.IntN(2) == 0 {
		c.Value = proto.String(randString(r))
	}
	for range r.IntN(3) {
		c.Grandchildren = append(c.Grandchildren, randGrandchild(r))
	}
	if r.IntN(3) == 0 {
		c.Favourite = randGrandchild(r)
	}
	return c
}

func randGrandchild(r *rand.Rand) *testpb.Grandchild {
	g := &testpb.Grandchild{}
	if r.IntN(2) == 0 {
		g.Label = proto.String(randString(r))
	}
	for range r.IntN(3) {
		g.Methods = append(g.Methods, randString(r))
	}
	if r.IntN(2) == 0 {
		g.Weight = proto.Int64(randInt64(r))
	}
	return g
}

// pieces are the fragments random strings are made of: plain text, every
// character JSON or CSV treats specially, multi-byte UTF-8 and formula
// starters.
var pieces = []string{
	"a", "Zz", "0", " ", ",", ";", "|", "\t", "\n", "\r", "\r\n", `"`, `\`, "/", "'",
	"\x00", "\x01", "\x1f", "\x7f", "é", "ü", "✓", "😀", "\u2028", "\u2029", "\ufeff",
	"\ufffd", "=", "+", "-", "@", "<", ">", "&", "{", "}", "[", "]", ":", "null",
}

func randString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(8) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func randInt64(r *rand.Rand) int64 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxInt64
	case 2:
		return math.MinInt64
	case 3:
		return int64(r.IntN(1000)) - 500
	}
	return int64(r.Uint64())
}

var specialFloats = []float64{
	0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e-7, 1e-6, 1e20, 1e21, 1e300,
	math.SmallestNonzeroFloat64, math.MaxFloat64, math.MaxFloat32, 0.1, 1.0 / 3, -2.5, 123456789.125,
}

func randFloat(r *rand.Rand) float64 {
	if r.IntN(2) == 0 {
		return specialFloats[r.IntN(len(specialFloats))]
	}
	return math.Float64frombits(r.Uint64())
}

// AppShaped returns a testpb message shaped like an Apigee developer app
// record of about 1 KB of JSON: identifiers and timestamps as scalars, two
// credentials as repeated children, each with product references and
// attributes as grandchildren, plus attributes and scopes. It is what the
// benchmarks encode; i varies the values.
func AppShaped(i int) *testpb.Everything {
	id := fmt.Sprintf("%08x-4c1e-4b7e-9f0a-%012x", i, i*7919)
	m := &testpb.Everything{
		Name:       proto.String(fmt.Sprintf("weather-app-%d", i)),
		Count:      proto.Int64(1700000000000 + int64(i)),
		Big:        proto.Uint64(1710000000000 + uint64(i)),
		Signed:     proto.Int64(-1),
		Flag:       proto.Bool(i%3 != 0),
		Color:      testpb.Everything_RED.Enum(),
		Plain:      "approved",
		PlainCount: 1700000000000 + int64(i),
		Tags:       []string{"read", "write", "weather:forecast"},
		Child: &testpb.Child{
			Key:   proto.String(fmt.Sprintf("developer-%d@example.com", i%997)),
			Value: proto.String(id),
		},
		Labels: map[string]string{"DisplayName": fmt.Sprintf("Weather App %d", i), "Notes": "created by onboarding"},
	}
	for c := range 2 {
		cred := &testpb.Child{
			Key:   proto.String(fmt.Sprintf("Xk3v9QpL7%dYtR2mNsW8bZ4cA%06d", c, i)),
			Value: proto.String(fmt.Sprintf("s3cr3tV4lu3%06d%d", i, c)),
		}
		for p := range 2 {
			cred.Grandchildren = append(cred.Grandchildren, &testpb.Grandchild{
				Label:   proto.String(fmt.Sprintf("weather-product-%d", p)),
				Methods: []string{"approved"},
				Weight:  proto.Int64(int64(1700000000000 + i + p)),
			})
		}
		cred.Favourite = &testpb.Grandchild{Label: proto.String("ADMIN_EMAIL"), Methods: []string{"ops@example.com"}}
		m.Children = append(m.Children, cred)
	}
	return m
}
