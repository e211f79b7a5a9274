// How radiald's gRPC servers listen: credentials (TLS or plaintext), channel
// arguments and plugins of the main server, and the plaintext health-only
// server. Internal to server/: included only by the files that include gRPC.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

namespace radial::server {

// PEM contents (not paths). cert_chain and private_key both empty: plaintext.
// client_ca non-empty: clients must present a certificate it verifies.
struct TlsPem {
  std::string cert_chain;
  std::string private_key;
  std::string client_ca;
  bool enabled() const { return !cert_chain.empty(); }
};

// Server credentials for `tls`: TLS 1.2+ with the certificate, requiring and
// verifying client certificates when client_ca is set; plaintext otherwise.
std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsPem& tls);

// Applies radiald's settings to the main server's builder: no SO_REUSEPORT
// (a second daemon cannot share the port), the receive size limit, the
// per-connection stream limit, a memory quota (see below), the maximum
// connection age (> 0: each
// connection gets GOAWAY after that many seconds and its calls in flight
// get `age_grace_s` more to finish (0: unbounded); clients reconnect and
// re-resolve, so they find new replicas), and server reflection when
// `reflection`.
//
// The memory quota (a grpc::ResourceQuota of `memory_quota_bytes`) is what
// bounds an HTTP/2 header flood in gRPC 1.51 (Debian 12): a HEADERS frame
// without END_HEADERS followed by CONTINUATION frames makes the HPACK parser
// keep every header it has parsed until the block ends, up to about 18 bytes
// of memory per byte received. The metadata size limit
// (grpc.max_metadata_size, SETTINGS_MAX_HEADER_LIST_SIZE, default 8 KiB)
// only applies once the client has acknowledged the server's SETTINGS, so a
// client that never does is not bound by it. Past the quota gRPC closes the
// connection holding the memory (GOAWAY ENHANCE_YOUR_CALM "Buffers full"),
// but also resets or closes other clients' calls; the deployments put nginx
// in front (deploy/proxy). docs/security.md has the figures.
void configure_main_builder(grpc::ServerBuilder& builder, int max_message_bytes,
                            int max_streams_per_connection, int64_t memory_quota_bytes,
                            double max_connection_age_s, double age_grace_s, bool reflection);

// A plaintext server on `listen` with only grpc.health.v1.Health (the
// default health service; the caller sets its statuses) and small limits;
// any other method is UNIMPLEMENTED (answered by `unimplemented`, which must
// outlive the server). Throws std::runtime_error when it cannot listen.
// `port` gets the bound port.
std::unique_ptr<grpc::Server> start_health_server(const std::string& listen,
                                                  grpc::CallbackGenericService* unimplemented,
                                                  int* port);

}  // namespace radial::server
