// Reading the small input files of a model directory (config.json,
// radial.json, tokenizer files) without trusting what is at the path.
#pragma once

#include <cstdint>
#include <string>

namespace radial {

// The whole content of the regular file at `path`, at most `max_bytes`.
// The type is checked before opening (a FIFO or a device at the path would
// block or never end), then again on the open descriptor. Throws
// Error(kNotFound) when the path does not exist or cannot be read, and
// Error(kCorrupt) naming the path when it is not a regular file or is
// larger than `max_bytes`.
std::string read_input_file(const std::string& path, uint64_t max_bytes);

// Error(kNotFound) unless `path` names a regular file; checked with stat(),
// which never blocks on a FIFO. `what` leads the message ("tokenizer model").
void require_regular_file(const std::string& path, const std::string& what);

}  // namespace radial
