# pubexport: the targets a newcomer and CI need. Every tool a target uses is
# either Go itself or installed by the target into ./.bin at a pinned version.

GO        ?= go
BIN       := $(CURDIR)/.bin
BUF_VERSION          := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
STATICCHECK_VERSION   := v0.8.2
# The suite's own bound: explicit, so that a hung test fails in minutes with
# its goroutines dumped, not at go test's default of 10 minutes a package.
TEST_TIMEOUT ?= 15m
# The longest test packages, named first so that go test starts them first:
# on two cores the suite ends when its last package does, and the short
# ones fill in beside the long ones better than the other way round
# (./... then adds every other package once).
TEST_FIRST := ./export/ ./export/apigee/ ./cmd/pubexport/
BUF_TEMPLATE := {"version":"v2","plugins":[{"local":"$(BIN)/protoc-gen-go","out":".","opt":["module=pubexport"]},{"local":"$(BIN)/protoc-gen-go-grpc","out":".","opt":["module=pubexport"]}]}
PROTOS := $(shell git ls-files '*.proto' 2>/dev/null)

.PHONY: all build test lint image-check race-loop run bench generate vet fmt tools clean

all: build

## build: compile every package and the two binaries into ./.bin
build:
	$(GO) build ./...
	$(GO) build -o $(BIN)/pubexport ./cmd/pubexport
	$(GO) build -o $(BIN)/apigee-emulator ./cmd/apigee-emulator

## test: the whole suite, with the race detector (what CI runs first);
## go test prints each package's time
test:
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(TEST_FIRST) ./...

## lint: go vet, gofmt (no file may need formatting) and staticcheck
lint: $(BIN)/staticcheck
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt -l: these files need gofmt:"; echo "$$out"; exit 1; fi
	$(BIN)/staticcheck ./...

## image-check: build pubexport as the Dockerfile does (static, stripped) and
## check that it fits distroless/static; kept out of `go test`, which would
## otherwise build the whole dependency graph a second time with other flags
image-check:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w" -o $(BIN)/image/pubexport ./cmd/pubexport
	$(GO) run ./.ci/imagecheck.go $(BIN)/image/pubexport

## race-loop: export/sink's tests 200 times under -race, to catch a rare
## race (one was seen once); takes most of an hour on 2 cores
race-loop:
	$(GO) test -race -count=200 -timeout 90m ./export/sink/

## run: a real export of the bundled sample organization to ./exports, offline
run:
	$(GO) run ./cmd/pubexport run
	@echo
	@echo "To export, watch and download in the export console, run this and open http://127.0.0.1:8080/ :"
	@echo "  go run ./cmd/pubexport serve --console --sample --allow-destination ./exports --store ./exports/.pubexport/operations"

## bench: the benchmark harness (see README, Performance)
bench:
	$(GO) run ./cmd/pubexport-bench

## generate: rebuild the checked-in protobuf Go code and derived test data.
## protoimage compiles the .proto files, taking googleapis imports from the
## descriptors in the Go modules go.mod pins (no network, no vendored
## copies); buf runs the plugins on the result. Running it twice changes
## nothing; TestGeneratedCodeIsCurrent (operations/operationspb/internal/protoimage)
## checks the checked-in code against the .proto files without the tools.
generate: tools
	$(GO) run ./operations/operationspb/internal/protoimage -o $(BIN)/protos.binpb $(PROTOS)
	$(BIN)/buf generate $(BIN)/protos.binpb --template '$(BUF_TEMPLATE)' $(addprefix --path ,$(PROTOS))
	$(GO) generate ./...

tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/staticcheck

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) exports
