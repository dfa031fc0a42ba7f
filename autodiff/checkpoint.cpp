// Safetensors reader/writer. The reader distrusts the file: every length and offset is checked
// against the file size before any allocation or read, mirroring the validation of the reference
// implementation (huggingface/safetensors `Metadata::validate`): offsets must tile the data section
// exactly, in order, with no overlap, gap or trailing bytes.
#include "autodiff/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include <zlib.h>

namespace pianograd {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; a big-endian host would need byte swapping");

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we (a corrupt length field must
// not make us allocate gigabytes).
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

const char* st_dtype(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::i64: return "I64";
  }
  return "?";
}

// CRC-32 (zlib) over what a reader takes from the file: each tensor's name, dtype, shape and bytes, in
// name order. load_safetensors' structural checks cannot see a tensor relabelled with the same byte size
// ([3, 4] as [4, 3], F32 as I32), nor flipped bits in the data; this can. It guards against accidents
// (hand edits, bad copies), not tampering.
std::string content_crc(const std::map<std::string, Tensor>& tensors) {
  uLong crc = crc32(0L, Z_NULL, 0);
  auto feed = [&crc](const void* p, size_t n) {
    const auto* b = static_cast<const Bytef*>(p);
    while (n > 0) {  // zlib takes uInt lengths
      const uInt k = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
      crc = crc32(crc, b, k);
      b += k, n -= k;
    }
  };
  for (const auto& [name, t] : tensors) {
    std::string head = name + '\0' + st_dtype(t.dtype());
    for (int64_t d : t.shape()) head += ',' + std::to_string(d);
    head += '\0';
    feed(head.data(), head.size());
    feed(t.raw_data(), t.nbytes());
  }
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc & 0xffffffffUL));
  return hex;
}

bool parse_st_dtype(const std::string& s, DType* out) {
  if (s == "F32") *out = DType::f32;
  else if (s == "F64") *out = DType::f64;
  else if (s == "I32") *out = DType::i32;
  else if (s == "I64") *out = DType::i64;
  else return false;
  return true;
}

std::string errno_str() { return std::strerror(errno); }

// Closes a descriptor on every exit path.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  int release() {
    int f = fd;
    fd = -1;
    return f;
  }
};

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw IOError("save_safetensors: cannot write '" + path + "': " + errno_str());
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

// Reads exactly n bytes at `offset`; false when the file ends first.
bool pread_all(int fd, void* data, size_t n, uint64_t offset) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

std::string dir_of(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;
};

[[noreturn]] void bad(const std::string& path, const std::string& what) {
  throw IOError("load_safetensors: '" + path + "': " + what);
}

Entry parse_entry(const std::string& path, const std::string& name, const json& v) {
  if (!v.is_object()) bad(path, "entry '" + name + "' is not a JSON object");
  Entry e{name, DType::f32, {}, 0, 0};
  const auto dt = v.find("dtype");
  if (dt == v.end() || !dt->is_string()) bad(path, "entry '" + name + "' has no string \"dtype\"");
  if (!parse_st_dtype(dt->get<std::string>(), &e.dtype))
    bad(path, "entry '" + name + "' has unsupported dtype \"" + dt->get<std::string>() +
                  "\" (supported: F32, F64, I32, I64)");
  const auto sh = v.find("shape");
  if (sh == v.end() || !sh->is_array()) bad(path, "entry '" + name + "' has no \"shape\" array");
  uint64_t bytes = dtype_size(e.dtype);
  for (const auto& d : *sh) {
    if (!d.is_number_unsigned()) bad(path, "entry '" + name + "' has a shape entry that is not a non-negative integer");
    const uint64_t dim = d.get<uint64_t>();
    if (dim > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, dim, &bytes))
      bad(path, "entry '" + name + "' has a shape whose byte size overflows");
    e.shape.push_back(static_cast<int64_t>(dim));
  }
  const auto off = v.find("data_offsets");
  if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
      !(*off)[1].is_number_unsigned())
    bad(path, "entry '" + name + "' needs \"data_offsets\": [begin, end] of non-negative integers");
  e.begin = (*off)[0].get<uint64_t>();
  e.end = (*off)[1].get<uint64_t>();
  if (e.end < e.begin)
    bad(path, "entry '" + name + "' has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                  "] with end before begin");
  if (e.end - e.begin != bytes)
    bad(path, "entry '" + name + "' of dtype " + dt->get<std::string>() + " and shape " + shape_str(e.shape) +
                  " needs " + std::to_string(bytes) + " bytes, data_offsets span " + std::to_string(e.end - e.begin));
  return e;
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  std::vector<Tensor> host;
  host.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name == "__metadata__")
      throw ValueError("save_safetensors: invalid tensor name '" + name + "' for '" + path + "'");
    if (!t.defined()) throw ValueError("save_safetensors: tensor '" + name + "' is undefined");
    Tensor h = t.to(kCPU);
    const uint64_t n = h.nbytes();
    header[name] = {{"dtype", st_dtype(h.dtype())}, {"shape", h.shape()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    host.push_back(std::move(h));
  }
  if (metadata.count(kChecksumKey))
    throw ValueError("save_safetensors: the metadata key '" + std::string(kChecksumKey) + "' is reserved (" + path + ")");
  std::map<std::string, Tensor> by_name;
  for (size_t i = 0; const auto& [name, t] : tensors) by_name.emplace(name, host[i++]);
  std::map<std::string, std::string> meta = metadata;
  meta[kChecksumKey] = content_crc(by_name);
  header["__metadata__"] = meta;
  std::string text = header.dump();
  // Pad with spaces to a multiple of 8 so the data section starts 8-byte aligned (as the reference
  // writer does; f64/i64 can then be mapped in place).
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(static_cast<uint64_t>(text.size()) >> (8 * i));

  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd f;
  f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0) throw IOError("save_safetensors: cannot create '" + tmp + "' for '" + path + "': " + errno_str());
  try {
    write_all(f.fd, len, 8, path);
    write_all(f.fd, text.data(), text.size(), path);
    for (const Tensor& h : host) write_all(f.fd, h.raw_data(), h.nbytes(), path);
    if (::fsync(f.fd) != 0) throw IOError("save_safetensors: fsync of '" + tmp + "' failed: " + errno_str());
    if (::close(f.release()) != 0) throw IOError("save_safetensors: close of '" + tmp + "' failed: " + errno_str());
    if (::rename(tmp.c_str(), path.c_str()) != 0)
      throw IOError("save_safetensors: cannot rename '" + tmp + "' to '" + path + "': " + errno_str());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable; failure here leaves a complete file, so it is not an error.
  Fd d;
  d.fd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.fd >= 0) ::fsync(d.fd);
}

SafetensorsFile load_safetensors(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    if (errno == ENOENT) throw FileNotFound("load_safetensors: no such file: '" + path + "'");
    throw IOError("load_safetensors: cannot open '" + path + "': " + errno_str());
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) bad(path, "cannot stat: " + errno_str());
  if (!S_ISREG(st.st_mode)) bad(path, "not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) bad(path, "truncated: " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
  unsigned char len[8];
  if (!pread_all(f.fd, len, 8, 0)) bad(path, "cannot read the header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(len[i]) << (8 * i);
  if (n > size - 8)
    bad(path, "header length " + std::to_string(n) + " exceeds the " + std::to_string(size - 8) +
                  " bytes after the length field (truncated or not a safetensors file)");
  if (n > kMaxHeaderBytes) bad(path, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n < 2) bad(path, "header of " + std::to_string(n) + " bytes cannot hold a JSON object");
  std::string text(n, '\0');
  if (!pread_all(f.fd, text.data(), n, 8)) bad(path, "truncated while reading the header");
  if (text[0] != '{') bad(path, "header does not start with '{' (not a safetensors file)");

  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    bad(path, std::string("malformed JSON header: ") + e.what());
  }
  if (!header.is_object()) bad(path, "header is not a JSON object");

  SafetensorsFile out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) bad(path, "\"__metadata__\" is not a JSON object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (!m->is_string()) bad(path, "\"__metadata__\" value for '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(path, it.key(), *it));
  }

  // The data section must be tiled exactly by the entries, in offset order.
  const uint64_t data_start = 8 + n, data_size = size - data_start;
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const Entry* a, const Entry* b) { return a->begin != b->begin ? a->begin < b->begin : a->end < b->end; });
  uint64_t expect = 0;
  for (const Entry* e : order) {
    if (e->end > data_size)
      bad(path, "entry '" + e->name + "' has data_offsets [" + std::to_string(e->begin) + ", " + std::to_string(e->end) +
                    "] beyond the " + std::to_string(data_size) + "-byte data section (truncated file?)");
    if (e->begin < expect) bad(path, "entry '" + e->name + "' overlaps the data of another tensor");
    if (e->begin > expect)
      bad(path, "gap in the data section before entry '" + e->name + "' (offset " + std::to_string(expect) + ")");
    expect = e->end;
  }
  if (expect != data_size)
    bad(path, std::to_string(data_size - expect) + " trailing bytes after the last tensor's data");

  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (!pread_all(f.fd, t.raw_data(), e.end - e.begin, data_start + e.begin))
      bad(path, "cannot read the data of entry '" + e.name + "' (file changed while reading?)");
    out.tensors.emplace(e.name, std::move(t));
  }
  // Files we wrote carry a checksum of their contents; files from elsewhere need not.
  const auto crc = out.metadata.find(kChecksumKey);
  if (crc != out.metadata.end()) {
    if (crc->second != content_crc(out.tensors))
      bad(path, "the tensors do not match the checksum written with them (" + std::string(kChecksumKey) +
                    "): a tensor's shape, dtype or data was changed after saving");
    out.metadata.erase(crc);
  }
  return out;
}

}  // namespace pianograd
