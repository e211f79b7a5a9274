// GGUF v3 writing: the container (write_gguf) and metadata values. The
// llama-architecture model mapping: gguf_model_writer.cpp; tokenizer
// metadata: gguf_vocab_writer.cpp.
#include "engine/gguf_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "engine/error.h"
#include "engine/kquant.h"

namespace radial {

namespace {

constexpr uint64_t kAlignment = 32;

// The bytes of the file, appended in order.
struct Bytes {
  std::string b;
  template <typename T>
  void raw(T v) {
    b.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  void str(const std::string& s) {
    raw<uint64_t>(s.size());
    b += s;
  }
  void pad() { b.append((kAlignment - b.size() % kAlignment) % kAlignment, '\0'); }
};

// One scalar of type `t`: integers and bools from `i`, floats from `f`.
void put_scalar(Bytes& out, GgufValueType t, int64_t i, double f, const std::string& key) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kBool:
      return out.raw(static_cast<uint8_t>(i));
    case GgufValueType::kI8:
      return out.raw(static_cast<int8_t>(i));
    case GgufValueType::kU16:
      return out.raw(static_cast<uint16_t>(i));
    case GgufValueType::kI16:
      return out.raw(static_cast<int16_t>(i));
    case GgufValueType::kU32:
      return out.raw(static_cast<uint32_t>(i));
    case GgufValueType::kI32:
      return out.raw(static_cast<int32_t>(i));
    case GgufValueType::kU64:
      return out.raw(static_cast<uint64_t>(i));
    case GgufValueType::kI64:
      return out.raw(i);
    case GgufValueType::kF32:
      return out.raw(static_cast<float>(f));
    case GgufValueType::kF64:
      return out.raw(f);
    default:
      throw Error(ErrorCode::kInvalidArgument,
                  key + ": cannot write a value of type " + gguf_value_type_name(t));
  }
}

void put_value(Bytes& out, const std::string& key, const GgufValue& v) {
  out.raw(static_cast<uint32_t>(v.type));
  if (v.type == GgufValueType::kString) return out.str(v.s);
  if (v.type != GgufValueType::kArray) return put_scalar(out, v.type, v.i, v.f, key);
  out.raw(static_cast<uint32_t>(v.elem_type));
  if (v.elem_type == GgufValueType::kString) {
    require(v.nums.empty(), ErrorCode::kInvalidArgument, key + ": a string array holds numbers");
    out.raw<uint64_t>(v.strs.size());
    for (const std::string& s : v.strs) out.str(s);
    return;
  }
  require(v.strs.empty(), ErrorCode::kInvalidArgument, key + ": a numeric array holds strings");
  out.raw<uint64_t>(v.nums.size());
  for (double x : v.nums) put_scalar(out, v.elem_type, static_cast<int64_t>(x), x, key);
}

// quantize(x, dst, n) over n values (whole 256-value blocks) of `bytes` per
// block, the blocks spread over the machine's threads: a K-quant block is a
// least-squares search of its own (about 180 s for a 1B model on one
// thread), and blocks do not depend on each other, so the bytes are the
// same for any split.
void quantize_blocks_parallel(void (*quantize)(const float*, uint8_t*, int64_t), const float* x,
                              uint8_t* dst, int64_t n, int64_t bytes) {
  const int64_t blocks = n / kKQuantBlock;
  const int64_t threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 64);
  const int64_t chunks = std::clamp<int64_t>(blocks / 256, 1, threads);
  std::vector<std::thread> workers;
  const auto run = [&](int64_t c) {
    const int64_t b0 = blocks * c / chunks, b1 = blocks * (c + 1) / chunks;
    quantize(x + b0 * kKQuantBlock, dst + b0 * bytes, (b1 - b0) * kKQuantBlock);
  };
  for (int64_t c = 1; c < chunks; ++c) workers.emplace_back(run, c);
  run(0);
  for (std::thread& w : workers) w.join();
}

// The tensor's data encoded as `type` (its F32 values, row-major).
std::string encode(const Tensor& t, GgmlType type) {
  const int64_t n = t.numel();
  const float* x = t.f32();
  std::string out(ggml_row_bytes(type, n), '\0');
  auto* dst = reinterpret_cast<uint8_t*>(out.data());
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, x, out.size());
      break;
    case GgmlType::kF16:
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = type == GgmlType::kF16 ? f32_to_f16(x[i]) : f32_to_bf16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case GgmlType::kQ8_0:  // rows are whole blocks, so the rows run on as one sequence
      quantize_row_q8_0(x, dst, n);
      break;
    case GgmlType::kQ4_K:
      quantize_blocks_parallel(&quantize_row_q4_k, x, dst, n, kQ4KBlockBytes);
      break;
    case GgmlType::kQ5_K:
      quantize_blocks_parallel(&quantize_row_q5_k, x, dst, n, kQ5KBlockBytes);
      break;
    case GgmlType::kQ6_K:
      quantize_blocks_parallel(&quantize_row_q6_k, x, dst, n, kQ6KBlockBytes);
      break;
    case GgmlType::kQ4_0:
      quantize_row_q4_0(x, dst, n);
      break;
    case GgmlType::kQ5_0:
      quantize_row_q5_0(x, dst, n);
      break;
    case GgmlType::kQ5_1:
      quantize_row_q5_1(x, dst, n);
      break;
    default:
      break;  // refused by write_gguf before
  }
  return out;
}

// A file created under a temporary name beside `path`, renamed onto it by
// commit(); removed if not committed.
class TempFile {
 public:
  explicit TempFile(const std::string& path) : path_(path) {
    static std::atomic<int> counter{0};
    tmp_ = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    require(fd_ >= 0, ErrorCode::kInternal, path + ": cannot create: " + std::strerror(errno));
  }
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      require(n > 0, ErrorCode::kInternal, path_ + ": write failed: " + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
  }
  void commit() {
    require(::fsync(fd_) == 0, ErrorCode::kInternal,
            path_ + ": write failed: " + std::strerror(errno));
    const int rc = ::close(fd_);
    fd_ = -1;
    require(rc == 0, ErrorCode::kInternal, path_ + ": write failed: " + std::strerror(errno));
    require(::rename(tmp_.c_str(), path_.c_str()) == 0, ErrorCode::kInternal,
            path_ + ": cannot rename the written file onto it: " + std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

GgufValue gguf_string(const std::string& s) {
  GgufValue v;
  v.type = GgufValueType::kString;
  v.s = s;
  return v;
}
GgufValue gguf_u32(uint32_t x) {
  GgufValue v;
  v.type = GgufValueType::kU32;
  v.i = x;
  return v;
}
GgufValue gguf_f32(float x) {
  GgufValue v;
  v.type = GgufValueType::kF32;
  v.f = x;
  return v;
}
GgufValue gguf_bool(bool x) {
  GgufValue v;
  v.type = GgufValueType::kBool;
  v.i = x ? 1 : 0;
  return v;
}
GgufValue gguf_strings(std::vector<std::string> x) {
  GgufValue v;
  v.type = GgufValueType::kArray;
  v.elem_type = GgufValueType::kString;
  v.strs = std::move(x);
  return v;
}
GgufValue gguf_numbers(GgufValueType elem, std::vector<double> x) {
  GgufValue v;
  v.type = GgufValueType::kArray;
  v.elem_type = elem;
  v.nums = std::move(x);
  return v;
}

void write_gguf(const std::string& path, const GgufMetadata& kv,
                const std::vector<GgufTensorOut>& tensors) {
  Bytes head;
  head.b = "GGUF";
  head.raw<uint32_t>(3);
  head.raw<uint64_t>(tensors.size());
  head.raw<uint64_t>(kv.size() + 1);
  head.str("general.alignment");
  put_value(head, "general.alignment", gguf_u32(kAlignment));
  std::set<std::string> keys{"general.alignment"}, names;
  for (const auto& [key, value] : kv) {
    require(keys.insert(key).second, ErrorCode::kInvalidArgument,
            path + ": metadata key " + key + " given twice");
    head.str(key);
    put_value(head, key, value);
  }
  uint64_t offset = 0;
  for (const GgufTensorOut& t : tensors) {
    const auto fail = [&](const std::string& what) {
      throw Error(ErrorCode::kInvalidArgument, path + ": tensor " + t.name + ": " + what);
    };
    if (!names.insert(t.name).second) fail("given twice");
    if (!t.data || t.data->dtype != DType::kF32 || t.data->shape.empty() ||
        t.data->shape.size() > 4)
      fail("not an F32 tensor of 1 to 4 dims");
    const bool encodable = t.type == GgmlType::kF32 || t.type == GgmlType::kF16 ||
                           t.type == GgmlType::kBF16 || t.type == GgmlType::kQ8_0 ||
                           t.type == GgmlType::kQ4_K || t.type == GgmlType::kQ5_K ||
                           t.type == GgmlType::kQ6_K || t.type == GgmlType::kQ4_0 ||
                           t.type == GgmlType::kQ5_0 || t.type == GgmlType::kQ5_1;
    if (!encodable) fail(std::string("cannot write ggml type ") + ggml_type_name(t.type));
    const int64_t cols = t.data->shape.back();
    if (cols % ggml_block_size(t.type) != 0)
      fail("row length " + std::to_string(cols) + " is not a multiple of " +
           std::to_string(ggml_block_size(t.type)) + ", the " + ggml_type_name(t.type) +
           " block size");
    head.str(t.name);
    head.raw<uint32_t>(static_cast<uint32_t>(t.data->shape.size()));
    for (auto it = t.data->shape.rbegin(); it != t.data->shape.rend(); ++it)
      head.raw<uint64_t>(static_cast<uint64_t>(*it));
    head.raw(static_cast<uint32_t>(t.type));
    head.raw(offset);
    offset += ggml_row_bytes(t.type, t.data->numel());
    offset = (offset + kAlignment - 1) / kAlignment * kAlignment;
  }
  head.pad();

  TempFile file(path);
  file.write(head.b);
  for (const GgufTensorOut& t : tensors) {
    Bytes data;
    data.b = encode(*t.data, t.type);
    data.pad();
    file.write(data.b);
  }
  file.commit();
}

}  // namespace radial
