// Safetensors checkpoints: byte layout, round trips for every dtype, and typed errors for every kind
// of corrupt file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "autodiff/checkpoint.h"
#include "pianograd.h"

using namespace pianograd;
namespace fs = std::filesystem;

namespace {

class Checkpoint : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pg_ckpt_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static std::string read_bytes(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  static void write_bytes(const std::string& p, const std::string& bytes) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  // A file assembled by hand: 8-byte LE length, header, data.
  static std::string make_file(const std::string& header, const std::string& data) {
    std::string out(8, '\0');
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    return out + header + data;
  }
  // Expects IOError (not FileNotFound) mentioning the file and `what`.
  void expect_corrupt(const std::string& bytes, const std::string& what) {
    const std::string p = path("corrupt.safetensors");
    write_bytes(p, bytes);
    try {
      load_safetensors(p);
      ADD_FAILURE() << "no error for a file that should fail with '" << what << "'";
    } catch (const FileNotFound& e) {
      ADD_FAILURE() << "FileNotFound for an existing file: " << e.what();
    } catch (const IOError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(p), std::string::npos) << msg;
      EXPECT_NE(msg.find(what), std::string::npos) << "expected '" << what << "' in: " << msg;
    }
  }

  fs::path dir_;
};

}  // namespace

TEST_F(Checkpoint, RoundTripEveryDtypeWithMetadata) {
  std::map<std::string, Tensor> ts;
  ts["w.f32"] = from_vector<float>({1.5f, -2.25f, 3.0f, 1e-30f, -0.0f, 7.0f}, {2, 3});
  ts["w.f64"] = from_vector<double>({3.141592653589793, -1e300}, {2, 1});
  ts["idx.i32"] = from_vector<int32_t>({-1, 2147483647, 0}, {3});
  ts["idx.i64"] = from_vector<int64_t>({INT64_MIN, 42}, {1, 2});
  ts["scalar"] = scalar(2.5, DType::f64);
  ts["empty"] = zeros({0, 4});
  const std::map<std::string, std::string> meta{{"format", "pt"}, {"epoch", "7"}};
  const std::string p = path("model.safetensors");
  save_safetensors(p, ts, meta);
  const SafetensorsFile f = load_safetensors(p);
  EXPECT_EQ(f.metadata, meta);
  ASSERT_EQ(f.tensors.size(), ts.size());
  for (const auto& [name, t] : ts) {
    const Tensor& r = f.tensors.at(name);
    EXPECT_EQ(r.dtype(), t.dtype()) << name;
    EXPECT_EQ(r.shape(), t.shape()) << name;
    EXPECT_EQ(std::memcmp(r.raw_data(), t.raw_data(), t.nbytes()), 0) << name;
  }
  // Nothing left behind by the atomic write.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST_F(Checkpoint, ByteLayoutFollowsTheSpec) {
  const std::string p = path("layout.safetensors");
  save_safetensors(p, {{"a", from_vector<float>({1.f, 2.f}, {2})}, {"b", from_vector<int64_t>({5}, {1})}});
  const std::string bytes = read_bytes(p);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[static_cast<size_t>(i)])) << (8 * i);
  EXPECT_EQ(n % 8, 0u) << "header padded so data is 8-byte aligned";
  ASSERT_EQ(bytes.size(), 8 + n + 8 + 8);
  const auto h = nlohmann::json::parse(bytes.substr(8, n));
  EXPECT_EQ(h["a"]["dtype"], "F32");
  EXPECT_EQ(h["a"]["shape"], nlohmann::json::array({2}));
  EXPECT_EQ(h["b"]["dtype"], "I64");
  const uint64_t a0 = h["a"]["data_offsets"][0], a1 = h["a"]["data_offsets"][1];
  EXPECT_EQ(a1 - a0, 8u);
  float v[2];
  std::memcpy(v, bytes.data() + 8 + n + a0, 8);
  EXPECT_EQ(v[0], 1.f);
  EXPECT_EQ(v[1], 2.f);
  // The only metadata: the contents' checksum (8 hex digits).
  ASSERT_TRUE(h.contains("__metadata__"));
  EXPECT_EQ(h["__metadata__"].size(), 1u);
  EXPECT_EQ(h["__metadata__"][kChecksumKey].get<std::string>().size(), 8u);
}

// A tensor relabelled with the same byte size ([3, 4] as [4, 3], F32 as I32) or with changed data
// passes every structural check; the checksum written with the file catches it.
TEST_F(Checkpoint, ChecksumRefusesRelabelledOrChangedTensors) {
  const std::string p = path("w.safetensors");
  std::vector<float> v(12);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * static_cast<float>(i);
  save_safetensors(p, {{"w", from_vector<float>(v, {3, 4})}, {"b", from_vector<float>({1.f}, {1})}}, {{"k", "v"}});
  const std::string good = read_bytes(p);
  EXPECT_EQ(load_safetensors(p).metadata, (std::map<std::string, std::string>{{"k", "v"}}));  // the key is hidden
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string b = good;
    const size_t at = b.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return b.replace(at, from.size(), to);
  };
  expect_corrupt(edited("[3,4]", "[4,3]"), "checksum");
  expect_corrupt(edited("\"F32\"", "\"I32\""), "checksum");
  std::string flipped = good;
  flipped.back() = static_cast<char>(flipped.back() ^ 1);
  expect_corrupt(flipped, "checksum");
  EXPECT_THROW(save_safetensors(path("r.safetensors"), {{"w", from_vector<float>({1.f}, {1})}}, {{kChecksumKey, "0"}}),
               ValueError);
}

TEST_F(Checkpoint, ReadsAHandWrittenFile) {
  // What safetensors' Python writer produces for {"x": np.array([1, 2], np.float64)} with metadata.
  double vals[2] = {1.0, 2.0};
  const std::string data(reinterpret_cast<const char*>(vals), 16);
  const std::string p = path("hand.safetensors");
  write_bytes(p, make_file(R"({"__metadata__":{"k":"v"},"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", data));
  const auto f = load_safetensors(p);
  EXPECT_EQ(f.metadata.at("k"), "v");
  EXPECT_EQ(f.tensors.at("x").to_vector<double>(), (std::vector<double>{1.0, 2.0}));
}

TEST_F(Checkpoint, OverwritesExistingFileAndRejectsBadTargets) {
  const std::string p = path("m.safetensors");
  save_safetensors(p, {{"a", ones({3})}});
  save_safetensors(p, {{"a", zeros({2})}});
  EXPECT_EQ(load_safetensors(p).tensors.at("a").shape(), Shape({2}));
  EXPECT_THROW(save_safetensors(path("no/such/dir/m.safetensors"), {{"a", ones({1})}}), IOError);
  EXPECT_THROW(save_safetensors(p, {{"__metadata__", ones({1})}}), ValueError);
  EXPECT_THROW(save_safetensors(p, {{"", ones({1})}}), ValueError);
}

TEST_F(Checkpoint, MissingFileIsFileNotFound) {
  EXPECT_THROW(load_safetensors(path("absent.safetensors")), FileNotFound);
}

TEST_F(Checkpoint, CorruptFilesRaiseTypedErrors) {
  const std::string good_header = R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string data(8, '\1');
  expect_corrupt("", "truncated");
  expect_corrupt("abc", "truncated");
  // Truncated data: the offsets point past the end.
  expect_corrupt(make_file(good_header, data.substr(0, 5)), "beyond");
  // Header length larger than the file.
  expect_corrupt(make_file(good_header, data).substr(0, 8 + 10), "exceeds");
  std::string huge = make_file(good_header, data);
  huge[7] = '\x7f';
  expect_corrupt(huge, "exceeds");
  expect_corrupt(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", data), "malformed JSON");
  expect_corrupt(make_file(R"([1,2,3])", ""), "start with");
  expect_corrupt(make_file(R"({"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "abcd"), "unsupported dtype");
  expect_corrupt(make_file(R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", data), "needs 12 bytes");
  expect_corrupt(make_file(R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", data), "non-negative");
  expect_corrupt(make_file(R"({"x":{"dtype":"F32","shape":[2]}})", data), "data_offsets");
  expect_corrupt(make_file(R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                           R"("y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                           std::string(12, '\0')),
                 "overlaps");
  expect_corrupt(make_file(R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", data), "gap");
  expect_corrupt(make_file(good_header, data + "xx"), "trailing");
  expect_corrupt(make_file(R"({"__metadata__":{"k":1},"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data),
                 "not a string");
  // Random bytes: must raise IOError, never crash or allocate absurdly.
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::string junk(static_cast<size_t>(8 + rng() % 200), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    const std::string p = path("junk.safetensors");
    write_bytes(p, junk);
    EXPECT_THROW(load_safetensors(p), IOError) << "trial " << trial;
  }
}

TEST_F(Checkpoint, EveryTruncationOfAValidFileIsRejected) {
  const std::string p = path("full.safetensors");
  save_safetensors(p, {{"a", ones({3, 2})}, {"b", from_vector<int32_t>({1, 2, 3}, {3})}}, {{"m", "x"}});
  const std::string bytes = read_bytes(p);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string q = path("cut.safetensors");
    write_bytes(q, bytes.substr(0, cut));
    EXPECT_THROW(load_safetensors(q), IOError) << "cut at " << cut;
  }
}
