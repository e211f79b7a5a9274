// Tokenizer encode throughput, single-threaded: the text of each file is cut
// into chunks of about 4 KiB at line ends (prompt-sized pieces) and every
// chunk is encoded without special tokens; the figure is the best of
// --passes passes over all chunks (after one warm-up pass), in MB/s of input
// text. bench/peer_tokenizers.mjs does the same with @huggingface/tokenizers;
// bench/tokenizer_bench.sh runs both side by side.
//
// Usage: bench_tokenizer --tokenizer DIR|FILE [--passes N] FILE...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/tokenizer.h"

namespace {

std::vector<std::string> chunks_of(const std::string& text, size_t target) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = std::min(text.size(), start + target);
    const size_t nl = text.find('\n', end);
    end = nl == std::string::npos ? text.size() : nl + 1;
    out.push_back(text.substr(start, end - start));
    start = end;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tok_path;
  int passes = 5;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--tokenizer") && i + 1 < argc) {
      tok_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--passes") && i + 1 < argc) {
      passes = std::max(1, std::atoi(argv[++i]));
    } else {
      files.push_back(argv[i]);
    }
  }
  if (tok_path.empty() || files.empty()) {
    std::fprintf(stderr, "usage: bench_tokenizer --tokenizer DIR|FILE [--passes N] FILE...\n");
    return 2;
  }
  try {
    const auto t0 = std::chrono::steady_clock::now();
    const auto tok = radial::Tokenizer::load(tok_path);
    const double load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string text;
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      if (!in) throw radial::Error(radial::ErrorCode::kNotFound, "cannot read " + f);
      std::ostringstream s;
      s << in.rdbuf();
      text += s.str();
    }
    const auto chunks = chunks_of(text, 4096);
    size_t tokens = 0;
    double best = 1e30;
    for (int p = 0; p <= passes; ++p) {
      const auto start = std::chrono::steady_clock::now();
      size_t n = 0;
      for (const auto& c : chunks) n += tok->encode(c, false).size();
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (p > 0) best = std::min(best, s);  // pass 0 warms up
      tokens = n;
    }
    std::printf("radiald  %-10s %8.2f MB  %9zu tokens  %7.1f MB/s  %6.2f Mtok/s  (load %.2f s)\n",
                std::string(tok->kind()).c_str(), text.size() / 1e6, tokens,
                text.size() / 1e6 / best, tokens / 1e6 / best, load_s);
  } catch (const radial::Error& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
  return 0;
}
