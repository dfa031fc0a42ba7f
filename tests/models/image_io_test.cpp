// Image I/O: write_png -> read_image round trips (grey, grey+alpha, RGB, RGBA at 8 and 16 bits), to_grey's
// arithmetic, and the typed, named errors for broken input. Files from other encoders (Pillow: palette,
// 1-bit, interlaced, JPEG) are read in tests/python/test_image_io.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "autodiff/errors.h"
#include "models/image_io.h"

namespace pianograd {
namespace {

namespace fs = std::filesystem;

class ImageIo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pianograd_image_io_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

Image random_image(int64_t h, int64_t w, int64_t c, int levels, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(0, levels);
  Image img{h, w, c, {}};
  for (int64_t i = 0; i < h * w * c; ++i) img.data.push_back(static_cast<float>(d(rng)) / static_cast<float>(levels));
  return img;
}

std::vector<uint8_t> file_bytes(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// zlib's CRC-32, to patch PNG headers with honest checksums.
uint32_t crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return c ^ 0xffffffffu;
}

// Sets IHDR's width and height (bytes 16..23 after the signature, length and type) and its CRC.
void patch_ihdr(std::vector<uint8_t>& b, uint32_t w, uint32_t h) {
  auto put32 = [&](size_t at, uint32_t v) {
    for (int k = 0; k < 4; ++k) b[at + static_cast<size_t>(k)] = static_cast<uint8_t>(v >> (24 - 8 * k));
  };
  put32(16, w);
  put32(20, h);
  put32(29, crc32(b.data() + 12, 17));  // over "IHDR" and its 13 data bytes
}

// Runs `f`, expecting exception E whose message contains every one of `parts`.
template <class E, class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const auto& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

TEST_F(ImageIo, RoundTripEveryChannelCountAndDepth) {
  for (int64_t c = 1; c <= 4; ++c) {
    for (int depth : {8, 16}) {
      const int levels = depth == 8 ? 255 : 65535;
      const Image img = random_image(13, 29, c, levels, static_cast<unsigned>(c * 100 + depth));
      const std::string p = path("rt" + std::to_string(c) + "_" + std::to_string(depth) + ".png");
      write_png(p, img, depth);
      const Image back = read_image(p);
      ASSERT_EQ(back.height, 13);
      ASSERT_EQ(back.width, 29);
      ASSERT_EQ(back.channels, c);
      ASSERT_EQ(back.data.size(), img.data.size());
      for (size_t i = 0; i < img.data.size(); ++i)
        ASSERT_NEAR(back.data[i], img.data[i], 1e-6) << "c=" << c << " depth=" << depth << " i=" << i;
    }
  }
}

TEST_F(ImageIo, OnePixelAndQuantisation) {
  write_png(path("one.png"), Image{1, 1, 1, {0.5f}});
  const Image one = read_image(path("one.png"));
  ASSERT_EQ(one.data.size(), 1u);
  EXPECT_FLOAT_EQ(one.data[0], 128.0f / 255.0f);  // 0.5 * 255 = 127.5 rounds away from zero
  write_png(path("one16.png"), Image{1, 1, 1, {0.5f}}, 16);
  EXPECT_FLOAT_EQ(read_image(path("one16.png")).data[0], 32768.0f / 65535.0f);
}

TEST_F(ImageIo, FormatIsSniffedNotTakenFromTheExtension) {
  const Image img = random_image(4, 5, 3, 255, 7);
  write_png(path("really_a_png.jpg"), img);
  EXPECT_EQ(read_image(path("really_a_png.jpg")).channels, 3);
  const auto bytes = file_bytes(path("really_a_png.jpg"));
  const Image mem = decode_image(bytes.data(), bytes.size(), "memory");
  EXPECT_EQ(mem.data, read_image(path("really_a_png.jpg")).data);
}

TEST(ImageToGrey, LumaAndAlphaOverWhite) {
  const Image rgb{1, 3, 3, {1, 0, 0, 0, 1, 0, 0.2f, 0.4f, 0.6f}};
  const Image g = to_grey(rgb);
  ASSERT_EQ(g.channels, 1);
  EXPECT_NEAR(g.data[0], 0.299f, 1e-6);
  EXPECT_NEAR(g.data[1], 0.587f, 1e-6);
  EXPECT_NEAR(g.data[2], 0.299f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f, 1e-6);
  // Transparent black is blank paper; half-transparent black is mid grey; opaque keeps its luma.
  const Image rgba{1, 3, 4, {0, 0, 0, 0, 0, 0, 0, 0.5f, 0, 0, 1, 1}};
  const Image ga = to_grey(rgba);
  EXPECT_NEAR(ga.data[0], 1.0f, 1e-6);
  EXPECT_NEAR(ga.data[1], 0.5f, 1e-6);
  EXPECT_NEAR(ga.data[2], 0.114f, 1e-6);
  const Image la{1, 2, 2, {0.2f, 0.25f, 0.8f, 1.0f}};
  const Image gl = to_grey(la);
  EXPECT_NEAR(gl.data[0], 0.2f * 0.25f + 0.75f, 1e-6);
  EXPECT_NEAR(gl.data[1], 0.8f, 1e-6);
  const Image l{1, 1, 1, {0.3f}};
  EXPECT_EQ(to_grey(l).data, l.data);
  EXPECT_THROW(to_grey(Image{1, 1, 5, {0, 0, 0, 0, 0}}), ValueError);
  EXPECT_THROW(to_grey(Image{2, 2, 1, {0}}), ValueError);
}

TEST_F(ImageIo, MissingDirectoryEmptyAndJunk) {
  expect_error<FileNotFound>([&] { read_image(path("none.png")); }, {"none.png", "no such file"});
  expect_error<IOError>([&] { read_image(dir_.string()); }, {dir_.string(), "directory"});
  write_bytes(path("empty.png"), {});
  expect_error<IOError>([&] { read_image(path("empty.png")); }, {"empty.png", "empty"});
  write_bytes(path("text.png"), {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  expect_error<IOError>([&] { read_image(path("text.png")); }, {"text.png", "not a PNG or JPEG", "68 65 6c"});
  const std::vector<uint8_t> jpeg_junk = {0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4, 5, 6, 7, 8};
  expect_error<IOError>([&] { decode_image(jpeg_junk.data(), jpeg_junk.size(), "junk.jpg"); }, {"junk.jpg", "JPEG"});
  const std::vector<uint8_t> cut_magic = {0x89, 'P', 'N'};
  expect_error<IOError>([&] { decode_image(cut_magic.data(), cut_magic.size(), "m"); }, {"truncated"});
}

TEST_F(ImageIo, TruncatedAndCorruptPng) {
  write_png(path("ok.png"), random_image(40, 50, 3, 255, 3));
  const auto good = file_bytes(path("ok.png"));
  for (size_t cut : {size_t{8}, size_t{20}, size_t{40}, good.size() / 2, good.size() - 13, good.size() - 1}) {
    const std::vector<uint8_t> b(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    expect_error<IOError>([&] { decode_image(b.data(), b.size(), "cut.png"); }, {"cut.png", "truncated PNG"});
  }
  auto bad_crc = good;
  bad_crc[29] ^= 0xff;  // IHDR's CRC
  expect_error<IOError>([&] { decode_image(bad_crc.data(), bad_crc.size(), "crc.png"); }, {"crc.png", "corrupt PNG"});
  auto zero_width = good;
  patch_ihdr(zero_width, 0, 40);
  expect_error<IOError>([&] { decode_image(zero_width.data(), zero_width.size(), "w0.png"); }, {"w0.png", "corrupt"});
}

TEST_F(ImageIo, OversizedHeaderIsAValueErrorBeforeAllocation) {
  // Only the header is patched: the 1-pixel IDAT that follows would not fill 30000 x 30000, but the
  // refusal must come from the header alone, before a 3.6 GB buffer is allocated.
  write_png(path("one.png"), Image{1, 1, 1, {0.0f}});
  auto b = file_bytes(path("one.png"));
  patch_ihdr(b, 30000, 30000);
  expect_error<ValueError>([&] { decode_image(b.data(), b.size(), "big.png"); }, {"big.png", "30000 x 30000", "too large"});
  patch_ihdr(b, 20000, 1);
  expect_error<ValueError>([&] { decode_image(b.data(), b.size(), "wide.png"); }, {"20000 x 1"});
  patch_ihdr(b, 10001, 10001);  // within the side limit, over 100 megapixels
  expect_error<ValueError>([&] { decode_image(b.data(), b.size(), "many.png"); }, {"10001 x 10001"});
}

TEST_F(ImageIo, WriteRejectsBadImages) {
  expect_error<ValueError>([&] { write_png(path("w.png"), Image{1, 2, 1, {0.5f, 1.5f}}); }, {"w.png", "sample 1", "[0, 1]"});
  expect_error<ValueError>([&] { write_png(path("w.png"), Image{1, 1, 1, {std::nanf("")}}); }, {"sample 0"});
  expect_error<ValueError>([&] { write_png(path("w.png"), Image{1, 1, 5, {0, 0, 0, 0, 0}}); }, {"channels"});
  expect_error<ValueError>([&] { write_png(path("w.png"), Image{2, 2, 1, {0}}); }, {"[2,2,1]"});
  expect_error<ValueError>([&] { write_png(path("w.png"), Image{0, 0, 1, {}}); }, {"empty"});
  expect_error<ValueError>([&] { write_png(path("w.png"), Image{1, 1, 1, {0}}, 12); }, {"bit_depth"});
  EXPECT_FALSE(fs::exists(path("w.png")));
  expect_error<IOError>([&] { write_png(path("no/such/dir/w.png"), Image{1, 1, 1, {0}}); }, {"w.png"});
}

}  // namespace
}  // namespace pianograd
