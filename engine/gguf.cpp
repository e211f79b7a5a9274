// GGUF header parsing (GgufFile::open) and tensor reads. Dequantization of
// the ggml block types: gguf_quant.cpp.
#include "engine/gguf.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "engine/error.h"
#include "engine/input_file.h"

namespace radial {

namespace {

constexpr uint64_t kMaxTensors = 1 << 20;
constexpr uint64_t kMaxKeys = 1 << 20;
constexpr uint64_t kMaxString = 64ull << 20;  // one string (chat templates are ~10 KB)
constexpr uint64_t kMaxArray = 1ull << 26;    // elements of one array
constexpr int64_t kMaxElements = 1ll << 40;   // elements of one tensor

}  // namespace

const char* gguf_value_type_name(GgufValueType t) {
  static const char* names[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                "int32",  "float32", "bool",   "string", "array",
                                "uint64", "int64",   "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < 13 ? names[i] : "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kU16:
    case GgufValueType::kI16:
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kU64:
    case GgufValueType::kI64:
      return true;
    default:
      return false;
  }
}

// Reads the header through a 1 MiB window over pread(); every read is checked
// against the file size first, so a length field can never make it allocate
// or read more than the file holds.
class GgufParser {
 public:
  GgufParser(GgufFile& f, uint64_t size) : f_(f), size_(size) {}

  void parse() {
    char magic[4];
    bytes(magic, 4);
    require(std::memcmp(magic, "GGUF", 4) == 0, ErrorCode::kCorrupt,
            f_.path_ + ": not a GGUF file (bad magic)");
    f_.version_ = u32("version");
    require(f_.version_ == 2 || f_.version_ == 3, ErrorCode::kUnsupported,
            f_.path_ + ": GGUF version " + std::to_string(f_.version_) +
                " is not supported (2 and 3 are)");
    const uint64_t n_tensors = u64("tensor_count"), n_kv = u64("metadata_kv_count");
    bound(n_tensors, kMaxTensors, "tensor_count");
    bound(n_kv, kMaxKeys, "metadata_kv_count");
    // Every kv takes at least 12 bytes (key length + type), every tensor 24.
    check(n_kv <= remaining() / 12 && n_tensors <= remaining() / 24,
          "tensor_count " + std::to_string(n_tensors) + " / metadata_kv_count " +
              std::to_string(n_kv) + " cannot fit in the file");
    for (uint64_t k = 0; k < n_kv; ++k) {
      std::string key = str("metadata key");
      const auto type = static_cast<GgufValueType>(u32("value type of " + key));
      GgufValue v = value(type, key, true);
      check(f_.kv_.emplace(key, std::move(v)).second, "duplicate metadata key " + key);
    }
    uint64_t alignment = 32;
    if (const GgufValue* a = f_.find("general.alignment")) {
      check(a->type == GgufValueType::kU32 && a->i > 0 && (a->i & (a->i - 1)) == 0,
            "general.alignment must be a uint32 power of two");
      alignment = static_cast<uint64_t>(a->i);
    }
    for (uint64_t t = 0; t < n_tensors; ++t) f_.tensors_.push_back(tensor_info(t));
    const uint64_t data = (pos_ + alignment - 1) / alignment * alignment;
    check(f_.tensors_.empty() || data <= size_, "the data section starts past the end of the file");
    for (size_t t = 0; t < f_.tensors_.size(); ++t) {
      GgufTensorInfo& ti = f_.tensors_[t];
      check(ti.offset % alignment == 0,
            "tensor " + ti.name + ": offset " + std::to_string(ti.offset) +
                " is not a multiple of the alignment " + std::to_string(alignment));
      check(ti.offset <= size_ - data && ti.nbytes <= size_ - data - ti.offset,
            "tensor " + ti.name + ": data [" + std::to_string(ti.offset) + ", +" +
                std::to_string(ti.nbytes) + ") lies past the end of the file (data section of " +
                std::to_string(size_ - data) + " bytes)");
      ti.offset += data;
      check(f_.by_name_.emplace(ti.name, t).second, "duplicate tensor " + ti.name);
    }
  }

 private:
  void check(bool ok, const std::string& what) const {
    require(ok, ErrorCode::kCorrupt, f_.path_ + ": " + what);
  }
  void bound(uint64_t v, uint64_t hi, const std::string& what) const {
    check(v <= hi, what + " " + std::to_string(v) + " is over the limit of " + std::to_string(hi));
  }
  uint64_t remaining() const { return size_ - pos_; }

  void bytes(void* dst, uint64_t n, const std::string& what = "header") {
    if (n > remaining())  // (not check(): the message is built only on failure)
      check(false, "truncated: " + what + " at offset " + std::to_string(pos_) + " needs " +
                       std::to_string(n) + " bytes, the file has " + std::to_string(remaining()) +
                       " left");
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      if (pos_ < win_start_ || pos_ >= win_start_ + win_.size()) fill();
      const uint64_t off = pos_ - win_start_, take = std::min<uint64_t>(n, win_.size() - off);
      std::memcpy(out, win_.data() + off, take);
      out += take;
      pos_ += take;
      n -= take;
    }
  }
  void fill() {
    win_start_ = pos_;
    win_.resize(std::min<uint64_t>(1 << 20, remaining()));
    size_t done = 0;
    while (done < win_.size()) {
      const ssize_t got = ::pread(f_.fd_, win_.data() + done, win_.size() - done,
                                  static_cast<off_t>(win_start_ + done));
      if (got < 0 && errno == EINTR) continue;
      check(got > 0, "read failed at offset " + std::to_string(win_start_ + done));
      done += static_cast<size_t>(got);
    }
  }
  template <typename T>
  T scalar(const std::string& what) {
    T v;
    bytes(&v, sizeof(T), what);
    return v;
  }
  uint32_t u32(const std::string& what) { return scalar<uint32_t>(what); }
  uint64_t u64(const std::string& what) { return scalar<uint64_t>(what); }
  std::string str(const std::string& what) {
    const uint64_t n = u64(what);
    if (n > kMaxString) bound(n, kMaxString, "length of " + what);
    if (n > remaining())
      check(false, "truncated: " + what + " of " + std::to_string(n) +
                       " bytes runs past the end of the file");
    std::string s(n, '\0');
    bytes(s.data(), n, what);
    return s;
  }

  GgufValue value(GgufValueType type, const std::string& key, bool allow_array) {
    GgufValue v;
    v.type = type;
    switch (type) {
      case GgufValueType::kU8:
        v.i = scalar<uint8_t>(key);
        break;
      case GgufValueType::kI8:
        v.i = scalar<int8_t>(key);
        break;
      case GgufValueType::kU16:
        v.i = scalar<uint16_t>(key);
        break;
      case GgufValueType::kI16:
        v.i = scalar<int16_t>(key);
        break;
      case GgufValueType::kU32:
        v.i = scalar<uint32_t>(key);
        break;
      case GgufValueType::kI32:
        v.i = scalar<int32_t>(key);
        break;
      case GgufValueType::kU64:
        v.i = static_cast<int64_t>(scalar<uint64_t>(key));
        break;
      case GgufValueType::kI64:
        v.i = scalar<int64_t>(key);
        break;
      case GgufValueType::kF32:
        v.f = scalar<float>(key);
        break;
      case GgufValueType::kF64:
        v.f = scalar<double>(key);
        break;
      case GgufValueType::kBool: {
        const uint8_t b = scalar<uint8_t>(key);
        check(b <= 1, key + ": bool value " + std::to_string(b) + " is not 0 or 1");
        v.i = b;
        break;
      }
      case GgufValueType::kString:
        v.s = str(key);
        break;
      case GgufValueType::kArray: {
        require(allow_array, ErrorCode::kUnsupported,
                f_.path_ + ": " + key + ": arrays of arrays are not supported");
        v.elem_type = static_cast<GgufValueType>(u32("element type of " + key));
        const uint64_t n = u64("length of " + key);
        bound(n, kMaxArray, "length of " + key);
        check(n <= remaining(),
              key + ": array of " + std::to_string(n) + " elements cannot fit in the file");
        for (uint64_t j = 0; j < n; ++j) {
          GgufValue e = value(v.elem_type, key, false);
          if (e.type == GgufValueType::kString) {
            v.strs.push_back(std::move(e.s));
          } else {
            v.nums.push_back(e.is_integer() ? static_cast<double>(e.i) : e.f);
          }
        }
        break;
      }
      default:
        throw Error(ErrorCode::kUnsupported, f_.path_ + ": " + key +
                                                 ": unknown metadata value type " +
                                                 std::to_string(static_cast<uint32_t>(type)));
    }
    return v;
  }

  GgufTensorInfo tensor_info(uint64_t index) {
    GgufTensorInfo t;
    t.name = str("name of tensor " + std::to_string(index));
    const uint32_t n_dims = u32("n_dims of " + t.name);
    check(n_dims >= 1 && n_dims <= 4,
          "tensor " + t.name + ": n_dims " + std::to_string(n_dims) + " is outside [1, 4]");
    int64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t ne = u64("dims of " + t.name);
      check(ne >= 1 && ne <= static_cast<uint64_t>(kMaxElements) &&
                static_cast<int64_t>(ne) <= kMaxElements / numel,
            "tensor " + t.name + ": dim " + std::to_string(ne) +
                " is zero or makes the tensor larger than 2^40 elements");
      t.ne.push_back(static_cast<int64_t>(ne));
      numel *= static_cast<int64_t>(ne);
    }
    const uint32_t type = u32("type of " + t.name);
    t.type = static_cast<GgmlType>(type);
    require(ggml_block_size(t.type) > 0, ErrorCode::kUnsupported,
            f_.path_ + ": tensor " + t.name + ": ggml type " + std::to_string(type) + " (" +
                ggml_type_name(t.type) +
                ") is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, "
                "IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_XS are)");
    check(t.ne[0] % ggml_block_size(t.type) == 0,
          "tensor " + t.name + ": row length " + std::to_string(t.ne[0]) +
              " is not a multiple of the " + ggml_type_name(t.type) + " block size " +
              std::to_string(ggml_block_size(t.type)));
    t.nbytes = ggml_row_bytes(t.type, t.ne[0]) * static_cast<uint64_t>(numel / t.ne[0]);
    t.offset = u64("offset of " + t.name);
    return t;
  }

  GgufFile& f_;
  uint64_t size_;
  uint64_t pos_ = 0;
  uint64_t win_start_ = 0;
  std::vector<char> win_;
};

GgufFile GgufFile::open(const std::string& path) {
  require_regular_file(path, "GGUF file");
  GgufFile f;
  f.path_ = path;
  f.fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  require(f.fd_ >= 0, ErrorCode::kNotFound, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  require(::fstat(f.fd_, &st) == 0 && S_ISREG(st.st_mode), ErrorCode::kNotFound,
          path + ": not a regular file");
  GgufParser(f, static_cast<uint64_t>(st.st_size)).parse();
  return f;
}

bool GgufFile::has_magic(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return false;
  char magic[4] = {};
  const bool ok = ::pread(fd, magic, 4, 0) == 4 && std::memcmp(magic, "GGUF", 4) == 0;
  ::close(fd);
  return ok;
}

GgufFile::GgufFile(GgufFile&& o) noexcept { *this = std::move(o); }
GgufFile& GgufFile::operator=(GgufFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    version_ = o.version_;
    kv_ = std::move(o.kv_);
    tensors_ = std::move(o.tensors_);
    by_name_ = std::move(o.by_name_);
  }
  return *this;
}
GgufFile::~GgufFile() {
  if (fd_ >= 0) ::close(fd_);
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::tensor(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

std::vector<uint8_t> GgufFile::read_raw(const GgufTensorInfo& t) const {
  std::vector<uint8_t> raw(t.nbytes);
  size_t done = 0;
  while (done < raw.size()) {
    const ssize_t got =
        ::pread(fd_, raw.data() + done, raw.size() - done, static_cast<off_t>(t.offset + done));
    if (got < 0 && errno == EINTR) continue;
    require(
        got > 0, ErrorCode::kCorrupt,
        path_ + ": tensor " + t.name + ": short read at offset " + std::to_string(t.offset + done));
    done += static_cast<size_t>(got);
  }
  return raw;
}

Tensor GgufFile::read_f32(const GgufTensorInfo& t) const {
  const std::vector<uint8_t> raw = read_raw(t);
  Tensor out = Tensor::zeros(DType::kF32, t.shape());
  ggml_dequantize(t.type, raw.data(), out.f32(), out.numel());
  return out;
}

Tensor GgufFile::read_as(const GgufTensorInfo& t, DType dtype) const {
  const bool same16 = (dtype == DType::kF16 && t.type == GgmlType::kF16) ||
                      (dtype == DType::kBF16 && t.type == GgmlType::kBF16);
  const bool q8 = dtype == DType::kQ8_0 && t.type == GgmlType::kQ8_0 && !t.ne.empty();
  const bool kquant = ((dtype == DType::kQ4_K && t.type == GgmlType::kQ4_K) ||
                       (dtype == DType::kQ5_K && t.type == GgmlType::kQ5_K) ||
                       (dtype == DType::kQ6_K && t.type == GgmlType::kQ6_K)) &&
                      !t.ne.empty();
  if (!same16 && !q8 && !kquant) {
    Tensor f = read_f32(t);
    return dtype == DType::kF32 ? f : f.to(dtype);
  }
  const std::vector<uint8_t> raw = read_raw(t);
  Tensor out = Tensor::zeros(dtype, t.shape());
  if (same16 || kquant) {  // the same bytes (K-quant blocks row after row)
    std::memcpy(out.data(), raw.data(), out.nbytes);
    return out;
  }
  // GGUF Q8_0 block: f16 d then int8 q[32] (34 bytes); k is a multiple of 32.
  const int64_t k = t.ne[0], rows = out.rows(), nb = k / kQ8Block;
  auto* qs = reinterpret_cast<int8_t*>(out.data());
  auto* scales = const_cast<uint16_t*>(out.q8_scales());
  for (int64_t b = 0; b < rows * nb; ++b) {
    const uint8_t* block = raw.data() + b * (2 + kQ8Block);
    std::memcpy(scales + b, block, 2);
    std::memcpy(qs + b * kQ8Block, block + 2, kQ8Block);
  }
  return out;
}

}  // namespace radial
