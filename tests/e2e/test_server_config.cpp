// radiald's start-up checks: bad flags, config files and settings exit 2
// with a message naming what is wrong (no gRPC client needed).
#include <chrono>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/e2e/server_fixture.h"

namespace radial::e2e {

using namespace std::chrono_literals;

TEST_CASE("radiald rejects bad flags and config files with exit code 2", "[server]") {
  TempDir dir;
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), radiald_binary());
    return run_command(args, "", 30s);
  };
  CommandResult r = run({"--bogus"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--bogus") != std::string::npos);
  write_file(dir.path() + "/unknown.json", R"({"model": "x", "max_queue": 3})");
  r = run({"--config", dir.path() + "/unknown.json"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("max_queue") != std::string::npos);
  write_file(dir.path() + "/type.json", R"({"threads": "four"})");
  r = run({"--config", dir.path() + "/type.json"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("threads") != std::string::npos);
  r = run({"--policy", "random"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("policy") != std::string::npos);
  // The backend: a known kind, a dtype it computes in, a fraction in (0, 1].
  r = run({"--backend", "tpu"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("backend") != std::string::npos);
  r = run({"--dtype", "int4"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("dtype") != std::string::npos);
  CHECK(r.output.find("q8_0") != std::string::npos);  // the choices are listed
  r = run({"--max-connection-age-s", "-1"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("max-connection-age-s") != std::string::npos);
  r = run({"--gpu-memory-fraction", "0"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("gpu_memory_fraction") != std::string::npos);
  r = run({"--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.output.find("--max-queued") != std::string::npos);
  // The example config of the repository is valid (checked with --help after it).
  r = run({"--config", source_dir() + "/configs/radiald.example.json", "--max-tokens", "x"});
  CHECK(r.exit_code == 2);
  CHECK(r.output.find("--max-tokens") != std::string::npos);
}

}  // namespace radial::e2e
