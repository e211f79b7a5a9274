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
// per-connection stream limit, the maximum connection age (> 0: each
// connection gets GOAWAY after that many seconds and its calls in flight
// get `age_grace_s` more to finish (0: unbounded); clients reconnect and
// re-resolve, so they find new replicas), and server reflection when
// `reflection`.
void configure_main_builder(grpc::ServerBuilder& builder, int max_message_bytes,
                            int max_streams_per_connection, double max_connection_age_s,
                            double age_grace_s, bool reflection);

// A plaintext server on `listen` with only grpc.health.v1.Health (the
// default health service; the caller sets its statuses) and small limits;
// any other method is UNIMPLEMENTED (answered by `unimplemented`, which must
// outlive the server). Throws std::runtime_error when it cannot listen.
// `port` gets the bound port.
std::unique_ptr<grpc::Server> start_health_server(const std::string& listen,
                                                  grpc::CallbackGenericService* unimplemented,
                                                  int* port);

}  // namespace radial::server
