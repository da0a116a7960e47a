# pubexport: the targets a newcomer and CI need. Every tool a target uses is
# either Go itself or installed by the target into ./.bin at a pinned version.

GO        ?= go
BIN       := $(CURDIR)/.bin
BUF_VERSION          := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
BUF_TEMPLATE := {"version":"v2","plugins":[{"local":"$(BIN)/protoc-gen-go","out":".","opt":["module=pubexport"]}]}

.PHONY: all build test run bench generate vet fmt tools clean

all: build

## build: compile every package and the two binaries into ./.bin
build:
	$(GO) build ./...
	$(GO) build -o $(BIN)/pubexport ./cmd/pubexport
	$(GO) build -o $(BIN)/apigee-emulator ./cmd/apigee-emulator

## test: the whole suite, with the race detector (what CI runs)
test:
	$(GO) test -race ./...

## run: a real export of the bundled sample organization to ./exports, offline
run:
	$(GO) run ./cmd/pubexport run

## bench: the benchmark harness (see README, Performance)
bench:
	$(GO) run ./cmd/pubexport-bench

## generate: rebuild the checked-in protobuf Go code and derived test data
generate: tools
	$(BIN)/buf generate . --template '$(BUF_TEMPLATE)'
	$(GO) generate ./...

tools: $(BIN)/buf $(BIN)/protoc-gen-go

$(BIN)/buf:
	GOBIN=$(BIN) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

clean:
	rm -rf $(BIN) exports
