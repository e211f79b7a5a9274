// Reading and writing the safetensors format
// (https://github.com/huggingface/safetensors):
//   [u64 little-endian N][N bytes of JSON header][data region]
// The header maps tensor names to {"dtype", "shape", "data_offsets": [begin,
// end]} (offsets relative to the data region) plus an optional
// "__metadata__" object of string -> string.
//
// SafetensorsFile::open validates the whole header strictly (as the
// reference Rust implementation does) and keeps the file descriptor open;
// read() then pread()s one tensor at a time, so multi-GB files are never held
// in memory at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace radial {

struct SafetensorsInfo {
  std::string dtype_name;      // as written in the file: "F32", "BF16", "I64", ...
  std::optional<DType> dtype;  // set when the engine can read this dtype (F32, F16, BF16)
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets in the data region, [begin, end)
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Opens and validates `path`. Throws Error:
  //   kNotFound     the file does not exist or cannot be opened;
  //   kCorrupt      "<path>: <what>": header length beyond the file or over
  //                 100 MB, header not a JSON object, an entry without
  //                 dtype/shape/data_offsets, negative dims, offsets out of
  //                 order / outside the data region / overlapping / leaving
  //                 gaps, byte size != numel * dtype size;
  //   kUnsupported  a dtype string unknown to the safetensors format (e.g. a
  //                 newer packed type), naming the tensor and the dtype.
  // Known but unsupported dtypes (I64, F64, U8, ...) pass open(); reading
  // such a tensor throws kUnsupported.
  static SafetensorsFile open(const std::string& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  // Throws Error(kNotFound) naming the tensor and the file.
  const SafetensorsInfo& info(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Reads tensor `name` converted to `to` (F32/F16/BF16; half types are
  // rounded to nearest even). Throws kNotFound for an unknown name,
  // kUnsupported for a dtype the engine cannot read, kCorrupt on a short read.
  Tensor read(const std::string& name, DType to) const;

 private:
  SafetensorsFile() = default;
  void read_bytes(uint64_t offset, void* dst, size_t n) const;

  std::string path_;
  int fd_ = -1;
  uint64_t data_start_ = 0;  // 8 + header length
  std::map<std::string, SafetensorsInfo> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes `tensors` (F32, F16 or BF16, each as stored) in the given order, with
// the header padded with spaces to a multiple of 8 bytes. Names must be unique
// and not "__metadata__". Throws kInvalidArgument for bad names, kInternal if
// the file cannot be written.
void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Converts `n` elements between dtypes (memcpy when equal).
void convert_elements(const void* src, DType from, void* dst, DType to, size_t n);

}  // namespace radial
