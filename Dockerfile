# acremu's image: a static binary in an otherwise empty image, run as a
# non-root user, with its state in the /data volume.
#
#   docker build -t acremu .
#   docker run --rm -p 127.0.0.1:5000:5000 -v acremu-data:/data acremu
#
# Dockerfile.offline builds the same final image from a prebuilt binary
# without pulling anything; keep the two final stages in step.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/acremu ./cmd/acremu \
 && mkdir -p /out/empty

FROM scratch
COPY --from=build /out/acremu /acremu
# Empty directories owned by the runtime user: the image has no shell to
# create them, and a fresh named volume copies /data's owner.
COPY --from=build --chown=65532:65532 /out/empty /data
COPY --from=build --chown=65532:65532 /out/empty /tmp
USER 65532:65532
# Inside a container every client arrives from a private address (the
# docker bridge's gateway, other containers); the NAT makes them appear as
# 203.0.113.10, the address the native binary gives loopback clients, so the
# IP rules of the walkthrough work unchanged. Override ACREMU_NAT (or pass
# --nat) to tell clients apart, as docker-compose.yml does.
ENV ACREMU_LISTEN=0.0.0.0:5000 \
    ACREMU_DATA_DIR=/data \
    ACREMU_NAT=127.0.0.0/8=203.0.113.10,::1=203.0.113.10,10.0.0.0/8=203.0.113.10,172.16.0.0/12=203.0.113.10,192.168.0.0/16=203.0.113.10,fc00::/7=203.0.113.10
EXPOSE 5000
VOLUME /data
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 CMD ["/acremu", "healthcheck"]
ENTRYPOINT ["/acremu"]
CMD ["serve"]
