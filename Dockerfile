# One image, three modes (manager, issuer, dev). Build: docker build -t idtenant:latest .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/idtenant/idtenant/internal/version.Version=${VERSION}" -o /idtenant .

FROM gcr.io/distroless/static:nonroot
COPY --from=build /idtenant /idtenant
USER 65532:65532
ENTRYPOINT ["/idtenant"]
