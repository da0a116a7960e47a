# pubexport container image: one static binary on distroless, for Cloud Run
# services (`pubexport serve`) and jobs (`pubexport job`).
#
#   docker build -t pubexport .
#   docker run --rm pubexport --help
#
# The build step is what `make image-check` checks in CI (there
# is no Docker engine there): CGO_ENABLED=0 must give a binary with no
# dynamic loader and no shared libraries, since the final image has neither.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/pubexport ./cmd/pubexport

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pubexport /pubexport
USER nonroot
# Cloud Run sets PORT; `serve` listens on :$PORT when --addr is not given.
ENTRYPOINT ["/pubexport"]
CMD ["--help"]
