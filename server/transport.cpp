#include "server/transport.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>

namespace radial::server {
namespace {

// Server reflection on one builder, or not. Linking gRPC's reflection
// library registers its plugin for every server (a static initializer), so
// this first removes it, then adds it back when wanted.
class ReflectionOption : public grpc::ServerBuilderOption {
 public:
  explicit ReflectionOption(bool enable) : enable_(enable) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    auto plugin = std::make_unique<grpc::reflection::ProtoServerReflectionPlugin>();
    const std::string name = plugin->name();
    std::erase_if(*plugins, [&](const auto& p) { return p->name() == name; });
    if (enable_) plugins->push_back(std::move(plugin));
  }

 private:
  bool enable_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> server_credentials(const TlsPem& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions opts(
      tls.client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                            : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = tls.client_ca;
  opts.pem_key_cert_pairs.push_back({tls.private_key, tls.cert_chain});
  return grpc::SslServerCredentials(opts);
}

void configure_main_builder(grpc::ServerBuilder& builder, int max_message_bytes,
                            int max_streams_per_connection, int64_t memory_quota_bytes,
                            double max_connection_age_s, double age_grace_s, bool reflection) {
  // One process per port: without this, Linux gRPC sets SO_REUSEPORT and a
  // second daemon would silently share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, max_streams_per_connection);
  if (max_connection_age_s > 0) {
    const auto ms = [](double s) {
      return static_cast<int>(std::min(s * 1000, double(std::numeric_limits<int>::max())));
    };
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, ms(max_connection_age_s));
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                               age_grace_s > 0 ? ms(age_grace_s) : std::numeric_limits<int>::max());
  }
  builder.SetMaxReceiveMessageSize(max_message_bytes);
  // The builder keeps a reference to the quota's core object.
  grpc::ResourceQuota quota("radiald");
  quota.Resize(static_cast<size_t>(memory_quota_bytes));
  builder.SetResourceQuota(quota);
  builder.SetOption(std::make_unique<ReflectionOption>(reflection));
}

std::unique_ptr<grpc::Server> start_health_server(const std::string& listen,
                                                  grpc::CallbackGenericService* unimplemented,
                                                  int* port) {
  grpc::ServerBuilder builder;
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, 16);
  builder.SetMaxReceiveMessageSize(4096);  // a HealthCheckRequest is a service name
  // Header floods: see configure_main_builder.
  grpc::ResourceQuota quota("radiald-health");
  quota.Resize(8 << 20);
  builder.SetResourceQuota(quota);
  builder.SetOption(std::make_unique<ReflectionOption>(false));
  // A server needs one service besides the default health service, which
  // gRPC adds at start.
  builder.RegisterCallbackGenericService(unimplemented);
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || *port == 0) throw std::runtime_error("cannot listen on " + listen + " (health)");
  return server;
}

}  // namespace radial::server
