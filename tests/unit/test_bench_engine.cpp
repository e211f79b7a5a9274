// `radial bench-engine` on the CPU backend with tiny sizes: it runs both
// modes, reports positive rates under their floors' bookkeeping, and full
// mode runs every layer.
#include <catch2/catch.hpp>

#include <fstream>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tools/radial/commands.h"

using namespace radial;
using namespace radial::test;

TEST_CASE("bench-engine runs on the CPU backend and writes its table", "[bench_engine]") {
  TempDir dir("bench-engine");
  const std::string model = default_model_dir(), json = dir.file("out.json");
  std::vector<std::string> argv_s = {"bench-engine",
                                     "--model",
                                     model,
                                     "--concurrency",
                                     "1,3",
                                     "--prompt-len",
                                     "6",
                                     "--gen-tokens",
                                     "4",
                                     "--prefill-len",
                                     "20",
                                     "--prefill-seqs",
                                     "2",
                                     "--batch-rows",
                                     "16",
                                     "--threads",
                                     "1",
                                     "--json",
                                     json};
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  REQUIRE(cli::cmd_bench_engine(static_cast<int>(argv.size()), argv.data()) == 0);
  std::ifstream in(json);
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j["num_layers"] == 5);
  CHECK(j["bandwidth_bytes_per_s"].get<double>() > 0);
  const auto& rows = j["rows"];
  REQUIRE(rows.size() == 6);  // (decode x1, decode x3, prefill) x (full, forward)
  for (const auto& r : rows) {
    INFO(r.dump());
    CHECK(r["tokens_per_s"].get<double>() > 0);
    CHECK(r["floor_tokens_per_s"].get<double>() > 0);
    CHECK(r["bytes_per_step"].get<double>() > 0);
    if (r["mode"] == "full") CHECK(r["depth"].get<double>() == 5.0);
    if (r["mode"] == "forward") CHECK(r["depth"].get<double>() <= 5.0);
    // Full mode: one call per layer and one wait (the head's tokens). Forward
    // mode: a call per layer some pass is at, and a routing wait after the
    // embedding and after each layer that ran a full row, except the last.
    const double calls = r["layer_calls_per_step"], waits = r["host_waits_per_step"];
    if (r["mode"] == "full") {
      CHECK(calls == 5.0);
      CHECK(waits == 1.0);
    } else {
      CHECK(calls >= 1.0);
      CHECK(calls <= 5.0);
      CHECK(waits >= 2.0);  // the embedding's routing and the head
      CHECK(waits <= 1.0 + calls + 1.0);
    }
  }
  CHECK(rows[0]["workload"] == "decode 6+4");
  CHECK(rows[2]["workload"] == "prefill 20");
  CHECK(rows[2]["seqs"] == 2);
  // Usage errors exit 2.
  std::vector<std::string> bad_s = {"bench-engine", "--backend", "tpu"};
  std::vector<char*> bad;
  for (auto& s : bad_s) bad.push_back(s.data());
  CHECK(cli::cmd_bench_engine(static_cast<int>(bad.size()), bad.data()) == 2);
}
