#include "engine/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "engine/input_file.h"
#include "engine/json_input.h"

namespace radial {
namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // as the reference implementation

// Element sizes of every dtype the safetensors format defines with a whole
// number of bytes per element. Sub-byte types (F4, F6_*) are not listed.
std::optional<size_t> known_dtype_size(const std::string& name) {
  static const std::map<std::string, size_t> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"F64", 8}, {"I64", 8}, {"U64", 8},     {"C64", 8}};
  auto it = kSizes.find(name);
  if (it == kSizes.end()) return std::nullopt;
  return it->second;
}

std::optional<DType> engine_dtype(const std::string& name) {
  if (name == "F32") return DType::kF32;
  if (name == "F16") return DType::kF16;
  if (name == "BF16") return DType::kBF16;
  return std::nullopt;
}

// Reads a non-negative JSON integer; throws kCorrupt via `fail` otherwise.
template <typename Fail>
uint64_t json_uint(const nlohmann::json& v, const Fail& fail, const std::string& what) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) fail(what + " is negative (" + json_brief(v) + ")");
  fail(what + " is not an integer (" + json_brief(v) + ")");
  return 0;
}

}  // namespace

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(std::exchange(o.fd_, -1)),
      data_start_(o.data_start_),
      entries_(std::move(o.entries_)),
      metadata_(std::move(o.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    data_start_ = o.data_start_;
    entries_ = std::move(o.entries_);
    metadata_ = std::move(o.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (fd_ >= 0) ::close(fd_);
}

void SafetensorsFile::read_bytes(uint64_t offset, void* dst, size_t n) const {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    size_t chunk = std::min<size_t>(n, size_t{1} << 30);
    ssize_t got = ::pread(fd_, p, chunk, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    require(got > 0, ErrorCode::kCorrupt,
            path_ + ": read failed at offset " + std::to_string(offset) + ": " +
                (got < 0 ? std::strerror(errno) : "unexpected end of file"));
    p += got;
    offset += static_cast<uint64_t>(got);
    n -= static_cast<size_t>(got);
  }
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.path_ = path;
  // The type first: open() of a FIFO blocks until a writer comes.
  require_regular_file(path, "safetensors file");
  f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  require(f.fd_ >= 0, ErrorCode::kNotFound, path + ": cannot open: " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    throw Error(ErrorCode::kCorrupt, path + ": " + what);
  };

  struct stat st {};
  require(::fstat(f.fd_, &st) == 0, ErrorCode::kNotFound, path + ": cannot stat");
  if (!S_ISREG(st.st_mode)) fail("not a regular file");
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < 8)
    fail("file is " + std::to_string(file_size) + " bytes, too short for the 8-byte header length");

  unsigned char len_bytes[8];
  f.read_bytes(0, len_bytes, 8);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | len_bytes[i];
  if (header_len > kMaxHeaderBytes)
    fail("header length " + std::to_string(header_len) + " is absurd (limit 100 MB)");
  if (header_len > file_size - 8)
    fail("header length " + std::to_string(header_len) + " exceeds the file size " +
         std::to_string(file_size));
  f.data_start_ = 8 + header_len;
  const uint64_t data_size = file_size - f.data_start_;

  std::string header(header_len, '\0');
  f.read_bytes(8, header.data(), header_len);
  nlohmann::json j;
  try {
    j = parse_json(header, "header");
  } catch (const Error& e) {
    fail(e.what());
  }
  if (!j.is_object()) fail("header is not a JSON object");

  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail("__metadata__ is not an object");
      for (auto& [k, s] : v.items()) {
        if (!s.is_string()) fail("__metadata__." + k + " is not a string");
        f.metadata_[k] = s.get<std::string>();
      }
      continue;
    }
    const std::string t = "tensor " + name;
    if (!v.is_object()) fail(t + ": entry is not an object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
      if (!v.contains(key)) fail(t + ": missing " + key);
    SafetensorsInfo info;
    if (!v["dtype"].is_string()) fail(t + ": dtype is not a string");
    info.dtype_name = v["dtype"].get<std::string>();
    std::optional<size_t> esize = known_dtype_size(info.dtype_name);
    require(esize.has_value(), ErrorCode::kUnsupported,
            path + ": " + t + ": unknown dtype " + info.dtype_name);
    info.dtype = engine_dtype(info.dtype_name);

    if (!v["shape"].is_array()) fail(t + ": shape is not an array");
    uint64_t numel = 1;
    bool overflow = false;
    for (const auto& d : v["shape"]) {
      uint64_t dim = json_uint(d, fail, t + ": dimension");
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(t + ": dimension " + std::to_string(dim) + " too large");
      info.shape.push_back(static_cast<int64_t>(dim));
      overflow |= __builtin_mul_overflow(numel, dim, &numel);
    }
    uint64_t nbytes = 0;
    overflow |= __builtin_mul_overflow(numel, *esize, &nbytes);
    if (overflow) fail(t + ": shape " + shape_string(info.shape) + " overflows");

    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2) fail(t + ": data_offsets is not a pair");
    info.begin = json_uint(off[0], fail, t + ": data_offsets[0]");
    info.end = json_uint(off[1], fail, t + ": data_offsets[1]");
    const std::string offs =
        "[" + std::to_string(info.begin) + ", " + std::to_string(info.end) + "]";
    if (info.begin > info.end) fail(t + ": data_offsets " + offs + " are not ordered");
    if (info.end > data_size)
      fail(t + ": data_offsets " + offs + " beyond the data region (" + std::to_string(data_size) +
           " bytes)");
    if (info.end - info.begin != nbytes)
      fail(t + ": data_offsets " + offs + " hold " + std::to_string(info.end - info.begin) +
           " bytes, but shape " + shape_string(info.shape) + " of " + info.dtype_name + " needs " +
           std::to_string(nbytes));
    f.entries_.emplace(name, std::move(info));
  }

  // The tensors must tile the data region exactly: no overlaps, no gaps.
  std::vector<std::pair<const std::string*, const SafetensorsInfo*>> order;
  for (const auto& [name, info] : f.entries_) order.emplace_back(&name, &info);
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
  });
  uint64_t pos = 0;
  const std::string* prev = nullptr;
  for (const auto& [name, info] : order) {
    if (info->begin < pos)
      fail("tensors " + *prev + " and " + *name + " overlap (data_offsets " +
           std::to_string(info->begin) + " < " + std::to_string(pos) + ")");
    if (info->begin > pos)
      fail("gap in the data region before tensor " + *name + " (bytes " + std::to_string(pos) +
           ".." + std::to_string(info->begin) + " unused)");
    pos = info->end;
    if (info->end > info->begin) prev = name;
  }
  if (pos != data_size)
    fail("data region is " + std::to_string(data_size) + " bytes but the tensors cover " +
         std::to_string(pos));
  return f;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, info] : entries_) out.push_back(name);
  return out;
}

const SafetensorsInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = entries_.find(name);
  require(it != entries_.end(), ErrorCode::kNotFound, path_ + ": no tensor " + name);
  return it->second;
}

Tensor SafetensorsFile::read(const std::string& name, DType to) const {
  const SafetensorsInfo& in = info(name);
  require(
      in.dtype.has_value(), ErrorCode::kUnsupported,
      path_ + ": tensor " + name + " has dtype " + in.dtype_name + " (supported: F32, F16, BF16)");
  const DType from = *in.dtype;
  Tensor t = Tensor::zeros(to, in.shape);
  const size_t n = static_cast<size_t>(t.numel());
  if (from == to) {
    read_bytes(data_start_ + in.begin, t.data(), t.nbytes);
    return t;
  }
  // Convert in bounded chunks so a large tensor never exists twice in memory.
  const size_t chunk = size_t{1} << 22;
  std::vector<std::byte> buf(std::min(n, chunk) * dtype_size(from));
  for (size_t i = 0; i < n; i += chunk) {
    const size_t m = std::min(chunk, n - i);
    read_bytes(data_start_ + in.begin + i * dtype_size(from), buf.data(), m * dtype_size(from));
    convert_elements(buf.data(), from, t.data() + i * dtype_size(to), to, m);
  }
  return t;
}

namespace {
// Inline, branch-free versions of tensor.h's bf16 conversions (same results:
// round to nearest even, NaN stays a quiet NaN), so conversion loops vectorise.
inline uint16_t to_bf16(float v) {
  const uint32_t bits = std::bit_cast<uint32_t>(v);
  const uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  const uint32_t nan = (bits >> 16) | 0x40u;
  return static_cast<uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
}
inline float from_bf16(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }
}  // namespace

void convert_elements(const void* src, DType from, void* dst, DType to, size_t n) {
  if (from == to) {
    std::memcpy(dst, src, n * dtype_size(from));
    return;
  }
  const auto* s16 = static_cast<const uint16_t*>(src);
  const auto* s32 = static_cast<const float*>(src);
  auto* d16 = static_cast<uint16_t*>(dst);
  auto* d32 = static_cast<float*>(dst);
  if (from == DType::kF32 && to == DType::kBF16) {
    for (size_t i = 0; i < n; ++i) d16[i] = to_bf16(s32[i]);
  } else if (from == DType::kBF16 && to == DType::kF32) {
    for (size_t i = 0; i < n; ++i) d32[i] = from_bf16(s16[i]);
  } else if (from == DType::kF32 && to == DType::kF16) {
    for (size_t i = 0; i < n; ++i) d16[i] = f32_to_f16(s32[i]);
  } else if (from == DType::kF16 && to == DType::kF32) {
    for (size_t i = 0; i < n; ++i) d32[i] = f16_to_f32(s16[i]);
  } else if (from == DType::kF16 && to == DType::kBF16) {
    for (size_t i = 0; i < n; ++i) d16[i] = to_bf16(f16_to_f32(s16[i]));
  } else {  // BF16 -> F16
    for (size_t i = 0; i < n; ++i) d16[i] = f32_to_f16(from_bf16(s16[i]));
  }
}

void write_safetensors(const std::string& path,
                       const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  std::set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    require(!name.empty() && name != "__metadata__", ErrorCode::kInvalidArgument,
            "write_safetensors: bad tensor name \"" + name + "\"");
    require(seen.insert(name).second, ErrorCode::kInvalidArgument,
            "write_safetensors: duplicate tensor name " + name);
    require(t != nullptr && t->nbytes == static_cast<size_t>(t->numel()) * dtype_size(t->dtype) &&
                (t->nbytes == 0 || t->storage),
            ErrorCode::kInvalidArgument,
            "write_safetensors: tensor " + name + " has no valid data");
    header[name] = {{"dtype", dtype_name(t->dtype)},
                    {"shape", t->shape},
                    {"data_offsets", {offset, offset + t->nbytes}}};
    offset += t->nbytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  unsigned char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(h.size() >> (8 * i));

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  require(out.good(), ErrorCode::kInternal, "cannot write " + path);
  out.write(reinterpret_cast<const char*>(len_bytes), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& [name, t] : tensors)
    out.write(reinterpret_cast<const char*>(t->data()), static_cast<std::streamsize>(t->nbytes));
  out.close();
  require(!out.fail(), ErrorCode::kInternal, "error writing " + path);
}

}  // namespace radial
