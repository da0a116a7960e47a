package apigee

import (
	"fmt"
	"math/rand/v2"

	"google.golang.org/protobuf/proto"

	"pubexport/export/apigee/apigeepb"
)

// Realistic records, deterministic for a seed: the shapes Apigee returns,
// with the odd non-ASCII name, quote and emoji that real orgs have.

var oddText = []string{"", "Zoë Ångström", `say "hi"\now`, "tab\there", "emoji 🚀 ok", "日本語", "</script>", "line\nbreak"}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func genAttributes(r *rand.Rand, n int) []*apigeepb.Attribute {
	out := make([]*apigeepb.Attribute, n)
	for i := range out {
		out[i] = &apigeepb.Attribute{Name: proto.String(fmt.Sprintf("attr-%d", i)), Value: proto.String(pick(r, oddText) + fmt.Sprint(r.IntN(1000)))}
	}
	return out
}

func genApp(r *rand.Rand, i int, status string) *apigeepb.App {
	a := &apigeepb.App{
		AppId:          proto.String(fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", r.Uint32(), i%65536, r.IntN(4096), r.IntN(4096), r.Uint64()&(1<<48-1))),
		Name:           proto.String(fmt.Sprintf("app-%d %s", i, pick(r, oddText))),
		DeveloperEmail: proto.String(fmt.Sprintf("dev%d@example.com", r.IntN(5000))),
		DeveloperId:    proto.String(fmt.Sprintf("%016x", r.Uint64())),
		CallbackUrl:    proto.String("https://example.com/cb?x=" + fmt.Sprint(i)),
		CreatedAt:      proto.Int64(1_600_000_000_000 + r.Int64N(1e11)),
		LastModifiedAt: proto.Int64(1_700_000_000_000 + r.Int64N(1e11)),
		KeyExpiresIn:   proto.Int64(-1),
		Status:         proto.String(status),
		Scopes:         []string{"read", "write"},
		Attributes:     genAttributes(r, 1+r.IntN(4)),
		ApiProducts:    []*apigeepb.ApiProductRef{{Apiproduct: proto.String("product-a"), Status: proto.String("approved")}},
	}
	for c := range 1 + r.IntN(2) {
		a.Credentials = append(a.Credentials, &apigeepb.Credential{
			ConsumerKey:    proto.String(fmt.Sprintf("key%d%016x%016x", c, r.Uint64(), r.Uint64())),
			ConsumerSecret: proto.String(fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())),
			IssuedAt:       proto.Int64(1_650_000_000_000 + r.Int64N(1e10)),
			ExpiresAt:      proto.Int64(-1),
			Status:         proto.String("approved"),
			Scopes:         []string{},
			Attributes:     genAttributes(r, r.IntN(2)),
			ApiProducts: []*apigeepb.ApiProductRef{
				{Apiproduct: proto.String("product-a"), Status: proto.String("approved")},
				{Apiproduct: proto.String(fmt.Sprintf("product-%d", r.IntN(50))), Status: proto.String(pick(r, []string{"approved", "revoked", "pending"}))},
			},
		})
	}
	return a
}

func genDeveloper(r *rand.Rand, i int) *apigeepb.Developer {
	return &apigeepb.Developer{
		Email:            proto.String(fmt.Sprintf("user%05d.%d@example.com", i, r.IntN(100))),
		FirstName:        proto.String(pick(r, oddText)),
		LastName:         proto.String(fmt.Sprint("Last", i)),
		UserName:         proto.String(fmt.Sprint("user", i)),
		DeveloperId:      proto.String(fmt.Sprintf("%016x", r.Uint64())),
		OrganizationName: proto.String("acme"),
		Status:           proto.String(pick(r, []string{"active", "inactive"})),
		CreatedAt:        proto.Int64(1_600_000_000_000 + r.Int64N(1e11)),
		LastModifiedAt:   proto.Int64(1_700_000_000_000 + r.Int64N(1e11)),
		Apps:             []string{fmt.Sprint("app-", i)},
		Attributes:       genAttributes(r, r.IntN(3)),
	}
}

func genProduct(r *rand.Rand, i int) *apigeepb.ApiProduct {
	p := &apigeepb.ApiProduct{
		Name:              proto.String(fmt.Sprintf("product-%05d", i)),
		DisplayName:       proto.String(pick(r, oddText)),
		ApprovalType:      proto.String("auto"),
		Environments:      []string{"test", "prod"},
		Proxies:           []string{"proxy-a"},
		ApiResources:      []string{"/", "/**"},
		Quota:             proto.String("1000"),
		QuotaInterval:     proto.String("1"),
		QuotaTimeUnit:     proto.String("minute"),
		QuotaCounterScope: pick(r, []apigeepb.ApiProduct_QuotaCounterScope{apigeepb.ApiProduct_PROXY, apigeepb.ApiProduct_OPERATION}).Enum(),
		CreatedAt:         proto.Int64(1_600_000_000_000 + r.Int64N(1e11)),
		Attributes:        genAttributes(r, 1+r.IntN(2)),
	}
	if i%3 == 0 {
		p.OperationGroup = &apigeepb.OperationGroup{OperationConfigType: proto.String("proxy"), OperationConfigs: []*apigeepb.OperationConfig{{
			ApiSource:  proto.String("proxy-a"),
			Operations: []*apigeepb.Operation{{Resource: proto.String("/pets"), Methods: []string{"GET", "POST"}}},
			Quota:      &apigeepb.Quota{Limit: proto.String("10"), Interval: proto.String("1"), TimeUnit: proto.String("minute")},
		}}}
	}
	return p
}

// genRecords makes n records of r; every third app is revoked.
func genRecords(res Resource, n int, seed uint64) []proto.Message {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]proto.Message, n)
	for i := range out {
		switch res {
		case Developers:
			out[i] = genDeveloper(r, i)
		case Apps:
			st := "approved"
			if i%3 == 2 {
				st = "revoked"
			}
			out[i] = genApp(r, i, st)
		case APIProducts:
			out[i] = genProduct(r, i)
		}
	}
	return out
}
