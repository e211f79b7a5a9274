// The safetensors reader and writer: round trips, the shipped model, and
// every kind of malformed file the reader must reject.
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "engine/error.h"
#include "engine/safetensors.h"
#include "tests/unit/test_util.h"

namespace radial {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;

// Writes [u64 header length][header][data] with an optional wrong length.
void write_raw(const std::string& path, const std::string& header, size_t data_bytes,
               int64_t length_override = -1) {
  uint64_t len = length_override >= 0 ? static_cast<uint64_t>(length_override) : header.size();
  std::ofstream out(path, std::ios::binary);
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>(len >> (8 * i)));
  out << header << std::string(data_bytes, '\x01');
}

Tensor iota(DType dt, std::vector<int64_t> shape, float scale) {
  Tensor f = Tensor::zeros(DType::kF32, std::move(shape));
  for (int64_t i = 0; i < f.numel(); ++i) f.f32()[i] = scale * static_cast<float>(i) - 1.f / 3;
  return f.to(dt);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype == b.dtype && a.shape == b.shape && a.nbytes == b.nbytes &&
         (a.nbytes == 0 || std::memcmp(a.data(), b.data(), a.nbytes) == 0);
}

TEST_CASE("safetensors round trip of F32, F16 and BF16 tensors", "[safetensors]") {
  TempDir tmp("roundtrip");
  Tensor a = iota(DType::kF32, {3, 5}, 0.37f), b = iota(DType::kF16, {7}, 1.5f),
         c = iota(DType::kBF16, {2, 2, 3}, -0.11f), empty = Tensor::zeros(DType::kF32, {0, 4});
  const std::string path = tmp.file("t.safetensors");
  write_safetensors(path, {{"zeta", &a}, {"alpha.half", &b}, {"mid.bf", &c}, {"none", &empty}},
                    {{"format", "pt"}});
  {  // the header is padded to a multiple of 8 bytes, so the data is aligned
    std::ifstream in(path, std::ios::binary);
    uint64_t len = 0;
    in.read(reinterpret_cast<char*>(&len), 8);
    CHECK(len % 8 == 0);
    CHECK(fs::file_size(path) == 8 + len + 60 + 14 + 24);
  }

  SafetensorsFile f = SafetensorsFile::open(path);
  CHECK(f.names() == std::vector<std::string>{"alpha.half", "mid.bf", "none", "zeta"});
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.info("zeta").dtype_name == "F32");
  CHECK(f.info("mid.bf").dtype == DType::kBF16);
  CHECK(f.info("mid.bf").shape == std::vector<int64_t>{2, 2, 3});
  CHECK(same_bits(f.read("zeta", DType::kF32), a));
  CHECK(same_bits(f.read("alpha.half", DType::kF16), b));
  CHECK(same_bits(f.read("mid.bf", DType::kBF16), c));
  CHECK(f.read("none", DType::kF32).numel() == 0);
  // Conversions round to nearest even, like Tensor::to.
  CHECK(same_bits(f.read("zeta", DType::kBF16), a.to(DType::kBF16)));
  CHECK(same_bits(f.read("zeta", DType::kF16), a.to(DType::kF16)));
  CHECK(same_bits(f.read("mid.bf", DType::kF32), c.to(DType::kF32)));
  CHECK(same_bits(f.read("alpha.half", DType::kBF16), b.to(DType::kBF16)));

  // Moving the file keeps it readable.
  SafetensorsFile g = std::move(f);
  CHECK(same_bits(g.read("zeta", DType::kF32), a));
  expect_error([&] { g.read("nope", DType::kF32); }, ErrorCode::kNotFound, {"nope"});
}

TEST_CASE("safetensors reads the shipped model", "[safetensors]") {
  SafetensorsFile f = SafetensorsFile::open(test::default_model_dir() + "/model.safetensors");
  CHECK(f.names().size() == 2 + 5 * 9);  // embed, norm, 9 per layer; no lm_head (tied)
  CHECK(f.info("model.embed_tokens.weight").shape == std::vector<int64_t>{512, 64});
  CHECK(f.info("model.layers.0.self_attn.k_proj.weight").shape == std::vector<int64_t>{32, 64});
  Tensor norm = f.read("model.norm.weight", DType::kF32);
  REQUIRE(norm.numel() == 64);
  CHECK(std::isfinite(norm.f32()[0]));
}

TEST_CASE("safetensors writer rejects bad input", "[safetensors]") {
  TempDir tmp("writer");
  Tensor a = iota(DType::kF32, {2}, 1.f);
  expect_error(
      [&] {
        write_safetensors(tmp.file("x"), {{"a", &a}, {"a", &a}});
      },
      ErrorCode::kInvalidArgument, {"duplicate", "a"});
  expect_error(
      [&] {
        write_safetensors(tmp.file("x"), {{"__metadata__", &a}});
      },
      ErrorCode::kInvalidArgument, {"__metadata__"});
}

TEST_CASE("safetensors rejects malformed files", "[safetensors]") {
  TempDir tmp("corrupt");
  const std::string p = tmp.file("bad.safetensors");
  auto open = [&] { SafetensorsFile::open(p); };
  const std::string ok_entry = R"("w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";

  SECTION("missing file") {
    expect_error([&] { SafetensorsFile::open(tmp.file("absent.safetensors")); },
                 ErrorCode::kNotFound, {"absent.safetensors"});
  }
  SECTION("shorter than the length prefix") {
    std::ofstream(p) << "abc";
    expect_error(open, ErrorCode::kCorrupt, {p, "too short"});
  }
  SECTION("header length beyond the file") {
    write_raw(p, "{" + ok_entry + "}", 16, 5000);
    expect_error(open, ErrorCode::kCorrupt, {p, "header length 5000"});
  }
  SECTION("absurd header length") {
    write_raw(p, "{}", 0, int64_t{1} << 40);
    expect_error(open, ErrorCode::kCorrupt, {"absurd"});
  }
  SECTION("header not JSON") {
    write_raw(p, "{not json", 0);
    expect_error(open, ErrorCode::kCorrupt, {p, "not valid JSON"});
  }
  SECTION("header not an object") {
    write_raw(p, "[1, 2]", 0);
    expect_error(open, ErrorCode::kCorrupt, {"not a JSON object"});
  }
  SECTION("entry without dtype") {
    write_raw(p, R"({"w":{"shape":[2],"data_offsets":[0,8]}})", 8);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "dtype"});
  }
  SECTION("entry without data_offsets") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2]}})", 8);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "data_offsets"});
  }
  SECTION("offsets beyond the data region") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "beyond the data region"});
  }
  SECTION("offsets not ordered") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", 8);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "not ordered"});
  }
  SECTION("overlapping offsets") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
              R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
              24);
    expect_error(open, ErrorCode::kCorrupt, {"a", "b", "overlap"});
  }
  SECTION("gap between tensors") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
              20);
    expect_error(open, ErrorCode::kCorrupt, {"gap", "b"});
  }
  SECTION("trailing bytes after the last tensor") {
    write_raw(p, "{" + ok_entry + "}", 20);
    expect_error(open, ErrorCode::kCorrupt, {"data region is 20 bytes"});
  }
  SECTION("size does not match the shape") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "[3]", "needs 12"});
  }
  SECTION("negative dimension") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}})", 16);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "negative"});
  }
  SECTION("non-integer dimension") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,16]}})", 16);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "not an integer"});
  }
  SECTION("overflowing shape") {
    write_raw(p, R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})",
              16);
    expect_error(open, ErrorCode::kCorrupt, {"tensor w", "overflows"});
  }
  SECTION("unknown dtype") {
    write_raw(p, R"({"w":{"dtype":"Q99","shape":[2],"data_offsets":[0,8]}})", 8);
    expect_error(open, ErrorCode::kUnsupported, {"tensor w", "Q99"});
  }
  SECTION("known but unsupported dtype: open works, read fails") {
    write_raw(p,
              R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
              R"("w":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
              24);
    SafetensorsFile f = SafetensorsFile::open(p);
    CHECK(f.info("ids").dtype_name == "I64");
    CHECK_FALSE(f.info("ids").dtype.has_value());
    CHECK(f.read("w", DType::kF32).numel() == 2);
    expect_error([&] { f.read("ids", DType::kF32); }, ErrorCode::kUnsupported, {"ids", "I64"});
  }
  SECTION("bad __metadata__") {
    write_raw(p, R"({"__metadata__":{"format":1},)" + ok_entry + "}", 16);
    expect_error(open, ErrorCode::kCorrupt, {"__metadata__"});
  }
}

}  // namespace
}  // namespace radial
