# keyleak: a static binary in a small non-root image.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/keyleak ./cmd/keyleak

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/keyleak /keyleak
USER 65532:65532
VOLUME ["/data"]
ENV KEYLEAK_DATABASE=/data/keyleak.db
EXPOSE 8080
ENTRYPOINT ["/keyleak"]
CMD ["serve"]
