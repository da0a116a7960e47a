package emulator

import (
	"math/rand/v2"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// GenerateSpec sizes a generated organization.
type GenerateSpec struct {
	Org                           string // default "acme"
	Developers, Apps, APIProducts int
	Seed                          int64
	// OperationPaths, when above 0, gives every API product an operation
	// group with that many operation configs, one path each with its own
	// methods, quota and attributes, as large products have: at 150 a
	// page of 1000 products is over 32 MiB.
	OperationPaths int
	// Spaces puts about a tenth of the API products into one of five
	// Apigee Spaces (space-0 to space-4); without it no product has a
	// Space, as in an organization that does not use them.
	Spaces bool
}

// The generated timeline: records are created between these instants (ms).
const (
	genEpoch = 1483228800000 // 2017-01-01
	genSpan  = 8 * 365 * 24 * 3600 * 1000
	genYear  = 365 * 24 * 3600 * 1000
)

// Generate builds one organization of the given size. The same spec always
// gives the same data (a deterministic PRNG, no clock), so tests can compare
// exports across runs. The records are shaped like real ones and carry the
// values that break naive exporters: unicode, commas, quotes, CR/LF, leading
// '=' (spreadsheet formulas), 18 attributes, revoked apps and revoked keys
// (apps whose keys are all revoked, apps with mixed keys, apps without keys),
// every kind of operation group. Keys are unique by construction; apps
// belong to generated developers when there are any (else to app groups),
// and reference generated products.
func Generate(s GenerateSpec) *Data {
	g := &generator{
		rng:    rand.New(rand.NewPCG(uint64(s.Seed), 0x9e3779b97f4a7c15)),
		org:    s.Org,
		spaces: s.Spaces,
	}
	g.salt = g.rng.Uint64()
	if g.org == "" {
		g.org = "acme"
	}
	o := &Org{Name: g.org}
	o.APIProducts = make([]*apigeepb.ApiProduct, max(s.APIProducts, 0))
	for i := range o.APIProducts {
		o.APIProducts[i] = g.product(i)
		if s.OperationPaths > 0 {
			o.APIProducts[i].OperationGroup = g.operationPaths(o.APIProducts[i], s.OperationPaths)
		}
	}
	o.Developers = make([]*apigeepb.Developer, max(s.Developers, 0))
	for i := range o.Developers {
		o.Developers[i] = g.developer(i)
	}
	o.Apps = make([]*apigeepb.App, max(s.Apps, 0))
	for i := range o.Apps {
		var dev *apigeepb.Developer
		if len(o.Developers) > 0 {
			dev = o.Developers[g.rng.IntN(len(o.Developers))]
		}
		o.Apps[i] = g.app(i, dev, o.APIProducts)
		if dev != nil && len(dev.Apps) < maxDeveloperApps {
			// developers.get shows at most 100 app names; store what it shows.
			dev.Apps = append(dev.Apps, o.Apps[i].GetName())
		}
	}
	return &Data{Orgs: []*Org{o}}
}

type generator struct {
	rng    *rand.Rand
	org    string
	spaces bool
	// keys counts credentials so that every consumer key is unique.
	keys uint64
	// salt makes ids differ between seeds.
	salt uint64
}

// Value pools. Names are mostly plain (as in real orgs); the awkward entries
// are there so that every export format meets them often.
var (
	firstNames = []string{"Maria", "James", "Wei", "Aisha", "Olga", "Juan", "Priya", "Liam", "Fatima", "Kenji",
		"Zoë", "José", "Øyvind", "Björn", "Siobhán", "François", "Ана", "李", "محمد", "Nguyễn", "Chloé", "Ζωή", "O'Neil", "Anne-Marie"}
	lastNames = []string{"Garcia", "Smith", "Chen", "Khan", "Ivanova", "Müller", "Patel", "Okafor", "Rossi", "Tanaka",
		"O'Brien", "Smith, Jr.", "García Márquez", "van der Berg", "\"The Rock\" Johnson", "Ångström", "Łukasiewicz", "王", "Εμμανουήλ", "Dvořák", "Nuñez"}
	// emailNames are lowercase, as Apigee requires emails to be.
	emailNames = []string{"maria", "james", "wei", "aisha", "olga", "juan", "priya", "liam", "fatima", "kenji", "zoë", "josé", "øyvind", "björn", "chloé", "anne-marie", "o.neil", "dev+api"}
	domains    = []string{"example.com", "example.org", "mail.example.net", "partner.example.co.uk", "example.de", "exämple.jp", "corp.example"}
	companies  = []string{"Acme Corp", "Globex, Inc.", "Initech", "Umbrella \"Health\"", "Stark Industries", "Wayne Enterprises", "株式会社サンプル", "Société Générale d'Exemple"}
	attrNames  = []string{"tier", "region", "notes", "billing_id", "signup_source", "preferred_language", "support_plan", "crm_id",
		"terms_accepted", "marketing_opt_in", "timezone", "cost_center", "partner", "owner", "ticket", "description", "phone", "address"}
	attrValues = []string{"gold", "silver", "bronze", "eu-west1", "us-central1", "asia-southeast1", "true", "false", "42",
		"Contact: Jane Doe, Ops", "Said \"hello\", then left", "line one\nline two", "windows\r\nline break", "tab\tseparated",
		"=HYPERLINK(\"http://example.com\",\"click\")", "+1 (555) 010-9999", "-5", "@SUM(A1:A2)", "naïve café — 10 €", "日本語のメモ",
		"emoji 🚀✨", "مرحبا بالعالم", "back\\slash", "</script><b>bold</b>", "   padded   ", "", "a,b,c", "'quoted'", "ümlaut, comma; semicolon"}
	productWords = []string{"payments", "weather", "maps", "identity", "orders", "inventory", "loyalty", "search", "shipping", "llm-gateway", "mcp-tools", "grpc-pets", "graphql-catalog"}
	envs         = []string{"prod", "test", "dev", "staging", "eu-prod"}
	scopes       = []string{"read", "write", "admin", "openid", "profile", "email", "payments:write"}
	methods      = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	models       = []string{"gemini-2.5-pro", "gemini-2.5-flash", "claude-sonnet", "llama-3-70b"}
	timeUnits    = []string{"minute", "hour", "day", "month"}
	appWords     = []string{"mobile", "web", "backend", "dashboard", "kiosk", "partner-sync", "analytics", "Mein Café App", "app, with comma", "\"quoted\" app", "アプリ"}
)

func pick[T any](g *generator, s []T) T { return s[g.rng.IntN(len(s))] }

// chance reports true with probability p.
func (g *generator) chance(p float64) bool { return g.rng.Float64() < p }

// uuid makes a random-looking version 4 UUID whose last 48 bits are a
// bijection of the record's number, so ids can never collide within a kind.
func (g *generator) uuid(kind, i uint64) string {
	node := scramble48(i ^ g.salt ^ kind<<40)
	hi := g.rng.Uint64()
	hi = hi&^0xf000 | 0x4000              // version 4
	seq := g.rng.Uint32()&0x3fff | 0x8000 // variant 10
	var b [36]byte
	hexDigits(b[0:8], hi>>32)
	b[8] = '-'
	hexDigits(b[9:13], hi>>16)
	b[13] = '-'
	hexDigits(b[14:18], hi)
	b[18] = '-'
	hexDigits(b[19:23], uint64(seq))
	b[23] = '-'
	hexDigits(b[24:36], node)
	return string(b[:])
}

// scramble48 is a bijection on 48-bit numbers (odd multipliers and
// xorshifts modulo 2^48) that makes consecutive numbers look unrelated.
func scramble48(x uint64) uint64 {
	const mask = 1<<48 - 1
	x = x * 0x9e3779b97f4b & mask
	x ^= x >> 21
	x = x * 0x5deece66d & mask
	x ^= x >> 17
	return x
}

// hexDigits writes the low len(dst) hex digits of v, as %0Nx would, without
// fmt's cost (a million ids are made per benchmark start).
func hexDigits(dst []byte, v uint64) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = "0123456789abcdef"[v&0xf]
		v >>= 4
	}
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func (g *generator) token(n int) string {
	var b strings.Builder
	b.Grow(n)
	for range n {
		b.WriteByte(alnum[g.rng.IntN(len(alnum))])
	}
	return b.String()
}

// consumerKey is 26 random characters then the credential's number,
// scrambled, in base 62 over 6 characters: unique (for fewer than 62^6
// credentials), fixed length, random-looking.
func (g *generator) consumerKey() string {
	const space = 62 * 62 * 62 * 62 * 62 * 62
	// 0x9e3779b1 is odd and not a multiple of 31, so coprime with 62^6:
	// multiplying by it permutes [0, 62^6).
	n := g.keys * 0x9e3779b1 % space
	g.keys++
	var suffix [6]byte
	for i := 5; i >= 0; i-- {
		suffix[i] = alnum[n%62]
		n /= 62
	}
	return g.token(26) + string(suffix[:])
}

func (g *generator) attributes(n int) []*apigeepb.Attribute {
	if n == 0 {
		return nil
	}
	out := make([]*apigeepb.Attribute, n)
	start := g.rng.IntN(len(attrNames))
	for i := range out {
		// Distinct names, as Apigee keys attributes by name.
		out[i] = &apigeepb.Attribute{
			Name:  proto.String(attrNames[(start+i)%len(attrNames)]),
			Value: proto.String(pick(g, attrValues)),
		}
	}
	return out
}

// attrCount is mostly a few, sometimes none, now and then the limit of 18.
func (g *generator) attrCount() int {
	switch r := g.rng.IntN(100); {
	case r < 15:
		return 0
	case r < 97:
		return 1 + g.rng.IntN(5)
	default:
		return maxAttributes
	}
}

func (g *generator) times() (created, modified int64) {
	created = genEpoch + g.rng.Int64N(genSpan)
	modified = created
	if g.chance(0.6) {
		modified += g.rng.Int64N(genYear)
	}
	return created, modified
}

func (g *generator) developer(i int) *apigeepb.Developer {
	first, last := pick(g, firstNames), pick(g, lastNames)
	local := pick(g, emailNames)
	email := local + "." + strconv.Itoa(i) + "@" + pick(g, domains)
	created, modified := g.times()
	d := &apigeepb.Developer{
		Attributes:       g.attributes(g.attrCount()),
		CreatedAt:        proto.Int64(created),
		DeveloperId:      proto.String(g.uuid(1, uint64(i))),
		Email:            proto.String(email),
		FirstName:        proto.String(first),
		LastModifiedAt:   proto.Int64(modified),
		LastName:         proto.String(last),
		OrganizationName: proto.String(g.org),
		Status:           proto.String("active"),
		UserName:         proto.String(local + strconv.Itoa(i)),
	}
	if g.chance(0.08) {
		d.Status = proto.String("inactive")
	}
	if g.chance(0.1) {
		d.Companies = []string{pick(g, companies)}
	}
	if g.chance(0.05) {
		d.AppFamily = proto.String("default")
	}
	return d
}

func (g *generator) productRefs(products []*apigeepb.ApiProduct, revoked float64) []*apigeepb.ApiProductRef {
	if len(products) == 0 {
		return nil
	}
	n := 1 + g.rng.IntN(min(3, len(products)))
	start := g.rng.IntN(len(products))
	out := make([]*apigeepb.ApiProductRef, n)
	for i := range out {
		st := "approved"
		if g.chance(revoked) {
			st = "revoked"
		}
		out[i] = &apigeepb.ApiProductRef{Apiproduct: products[(start+i)%len(products)].Name, Status: proto.String(st)}
	}
	return out
}

func (g *generator) app(i int, dev *apigeepb.Developer, products []*apigeepb.ApiProduct) *apigeepb.App {
	created, modified := g.times()
	if dev != nil {
		created = max(created, dev.GetCreatedAt())
		modified = max(modified, created)
	}
	a := &apigeepb.App{
		ApiProducts:    g.productRefs(products, 0.05),
		AppId:          proto.String(g.uuid(2, uint64(i))),
		Attributes:     g.attributes(min(g.attrCount(), 6)),
		CallbackUrl:    proto.String("https://app" + strconv.Itoa(i) + ".example.com/oauth/callback"),
		CreatedAt:      proto.Int64(created),
		KeyExpiresIn:   proto.Int64(-1),
		LastModifiedAt: proto.Int64(modified),
		Name:           proto.String(pick(g, appWords) + "-" + strconv.Itoa(i)),
		Status:         proto.String("approved"),
	}
	if a.Attributes == nil || g.chance(0.5) {
		a.Attributes = append(a.Attributes, &apigeepb.Attribute{Name: proto.String("DisplayName"), Value: proto.String(a.GetName())})
	}
	if g.chance(0.1) {
		a.Status = proto.String("revoked")
	}
	if dev != nil {
		a.DeveloperEmail = dev.Email
		a.DeveloperId = dev.DeveloperId
	} else {
		a.AppGroup = proto.String("team-" + strconv.Itoa(i%17))
		a.CompanyName = proto.String(pick(g, companies))
	}
	if g.chance(0.3) {
		a.Scopes = []string{pick(g, scopes), pick(g, scopes)}
	}
	if g.chance(0.2) {
		a.KeyExpiresIn = proto.Int64(int64(1+g.rng.IntN(365)) * 24 * 3600 * 1000)
	}
	if g.chance(0.1) {
		a.CallbackUrl = nil
	}
	// 1 to 3 keys, each revoked at 15% (so about 6% of apps, approved or
	// revoked, have only revoked keys, and a quarter mixed keys); 2% of
	// apps have no key at all. The apps list hides the first kind unless
	// asked for keyStatus=revoked.
	creds := 1 + g.rng.IntN(3)
	if g.chance(0.02) {
		creds = 0
	}
	issued := created
	for range creds {
		c := &apigeepb.Credential{
			ApiProducts:    g.productRefs(products, 0.1),
			ConsumerKey:    proto.String(g.consumerKey()),
			ConsumerSecret: proto.String(g.token(16 + g.rng.IntN(49))),
			ExpiresAt:      proto.Int64(-1),
			IssuedAt:       proto.Int64(issued),
			Status:         proto.String("approved"),
		}
		if a.GetKeyExpiresIn() > 0 {
			c.ExpiresAt = proto.Int64(issued + a.GetKeyExpiresIn())
		}
		if g.chance(0.15) {
			c.Status = proto.String("revoked")
		}
		if g.chance(0.1) {
			c.Attributes = g.attributes(1 + g.rng.IntN(2))
		}
		if a.Scopes != nil {
			c.Scopes = a.Scopes
		}
		a.Credentials = append(a.Credentials, c)
		issued += g.rng.Int64N(genYear)
	}
	return a
}

func (g *generator) quota() *apigeepb.Quota {
	return &apigeepb.Quota{
		Interval: proto.String(strconv.Itoa(1 + g.rng.IntN(12))),
		Limit:    proto.String(strconv.Itoa(10 * (1 + g.rng.IntN(1000)))),
		TimeUnit: proto.String(pick(g, timeUnits)),
	}
}

func (g *generator) product(i int) *apigeepb.ApiProduct {
	word := pick(g, productWords)
	name := word + "-v" + strconv.Itoa(1+g.rng.IntN(3)) + "-" + strconv.Itoa(i)
	if g.chance(0.1) {
		// Product names may hold spaces, $ and %, which clients must escape.
		name = "Gold Plan $ 100% " + strconv.Itoa(i)
	}
	created, modified := g.times()
	proxy := word + "-proxy"
	p := &apigeepb.ApiProduct{
		ApiResources:   []string{"/", "/**", "/v1/" + word + "/**"}[:1+g.rng.IntN(3)],
		ApprovalType:   proto.String("auto"),
		Attributes:     append(g.attributes(min(g.attrCount(), 5)), &apigeepb.Attribute{Name: proto.String("access"), Value: proto.String(pick(g, []string{"public", "private", "internal"}))}),
		CreatedAt:      proto.Int64(created),
		Description:    proto.String("The " + word + " API, version " + strconv.Itoa(i) + ".\nIncludes sandbox access, \"fair use\" limits, and support."),
		DisplayName:    proto.String(strings.ToUpper(word[:1]) + word[1:] + " — Plan " + strconv.Itoa(i)),
		Environments:   []string{pick(g, envs), pick(g, envs)},
		LastModifiedAt: proto.Int64(modified),
		Name:           proto.String(name),
		Proxies:        []string{proxy},
		Quota:          proto.String(strconv.Itoa(100 * (1 + g.rng.IntN(100)))),
		QuotaInterval:  proto.String(strconv.Itoa(1 + g.rng.IntN(4))),
		QuotaTimeUnit:  proto.String(pick(g, timeUnits)),
		Scopes:         []string{pick(g, scopes)},
	}
	if p.Environments[0] == p.Environments[1] {
		p.Environments = p.Environments[:1]
	}
	if g.chance(0.3) {
		p.ApprovalType = proto.String("manual")
	}
	if g.chance(0.75) {
		p.QuotaCounterScope = apigeepb.ApiProduct_QuotaCounterScope(1 + g.rng.IntN(3)).Enum()
	}
	if g.chance(0.1) {
		// Drawn with or without Spaces, so that the rest of the data is
		// the same either way.
		if space := "space-" + strconv.Itoa(g.rng.IntN(5)); g.spaces {
			p.Space = proto.String(space)
		}
	}
	switch i % 5 {
	case 0:
		p.OperationGroup = &apigeepb.OperationGroup{
			OperationConfigType: proto.String("proxy"),
			OperationConfigs: []*apigeepb.OperationConfig{{
				ApiSource:  proto.String(proxy),
				Attributes: g.attributes(g.rng.IntN(2)),
				Operations: []*apigeepb.Operation{{Methods: []string{pick(g, methods), pick(g, methods)}, Resource: proto.String("/" + word + "/*")}},
				Quota:      g.quota(),
			}},
		}
	case 1:
		p.GraphqlOperationGroup = &apigeepb.GraphQLOperationGroup{
			OperationConfigType: proto.String("proxy"),
			OperationConfigs: []*apigeepb.GraphQLOperationConfig{{
				ApiSource:  proto.String(proxy),
				Operations: []*apigeepb.GraphQLOperation{{Operation: proto.String("get" + strings.ToUpper(word[:1]) + word[1:]), OperationTypes: []string{"query", "mutation"}[:1+g.rng.IntN(2)]}},
				Quota:      g.quota(),
			}},
		}
	case 2:
		p.GrpcOperationGroup = &apigeepb.GrpcOperationGroup{OperationConfigs: []*apigeepb.GrpcOperationConfig{{
			ApiSource: proto.String(proxy),
			Methods:   []string{"ListPets", "GetPet"},
			Quota:     g.quota(),
			Service:   proto.String("com.example." + strings.ReplaceAll(word, "-", "") + ".v1.Service"),
		}}}
	case 3:
		p.LlmOperationGroup = &apigeepb.LlmOperationGroup{OperationConfigs: []*apigeepb.LlmOperationConfig{{
			ApiSource:     proto.String(proxy),
			LlmOperations: []*apigeepb.LlmOperation{{Methods: []string{"POST"}, Model: proto.String(pick(g, models)), Resource: proto.String("/v1/chat/completions")}},
			LlmTokenQuota: &apigeepb.LlmTokenQuota{Interval: proto.String("1"), Limit: proto.String(strconv.Itoa(10000 * (1 + g.rng.IntN(100)))), TimeUnit: proto.String(pick(g, timeUnits))},
		}}}
		p.LlmQuota = proto.String("50000")
		p.LlmQuotaInterval = proto.String("1")
		p.LlmQuotaTimeUnit = proto.String("hour")
	case 4:
		p.PayloadOperationGroup = &apigeepb.PayloadOperationGroup{OperationConfigs: []*apigeepb.PayloadOperationConfig{{
			ApiSource:  proto.String(proxy),
			Attributes: g.attributes(1),
			Operations: []*apigeepb.PayloadOperation{{Operation: proto.String("tools/list")}, {Operation: proto.String("tools/call/get_weather")}},
			Quota:      g.quota(),
		}}}
	}
	return p
}

// operationPaths is an operation group of n configs, one path each.
func (g *generator) operationPaths(p *apigeepb.ApiProduct, n int) *apigeepb.OperationGroup {
	og := &apigeepb.OperationGroup{OperationConfigType: proto.String("proxy")}
	proxy := p.GetProxies()[0]
	for i := range n {
		og.OperationConfigs = append(og.OperationConfigs, &apigeepb.OperationConfig{
			ApiSource: proto.String(proxy),
			Attributes: []*apigeepb.Attribute{
				{Name: proto.String("owner"), Value: proto.String("team-" + strconv.Itoa(g.rng.IntN(40)) + "@example.com")},
				{Name: proto.String("tier"), Value: proto.String(pick(g, []string{"gold", "silver", "bronze"}))},
			},
			Operations: []*apigeepb.Operation{{
				Methods:  []string{"GET", "POST", "PUT", "PATCH", "DELETE"}[:1+g.rng.IntN(5)],
				Resource: proto.String("/" + p.GetName() + "/v" + strconv.Itoa(1+i%3) + "/resources-" + strconv.Itoa(i) + "/{id}/items/**"),
			}},
			Quota: g.quota(),
		})
	}
	return og
}
