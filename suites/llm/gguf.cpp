#include "gguf.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <system_error>

#include "xpubench/error.hpp"

namespace xpb::gguf {
namespace {

constexpr std::array<std::uint8_t, 4> kMagic{0x47, 0x47, 0x55, 0x46};  // "GGUF"
constexpr std::string_view kAlignmentKey = "general.alignment";

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

bool is_power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

bool valid_type(std::uint32_t t) { return t <= static_cast<std::uint32_t>(ValueType::f64); }

// Bytes an element of type `t` takes in the file at least: what an array count is checked
// against before anything is allocated for it.
std::uint64_t min_encoded_bytes(ValueType t) {
  switch (t) {
    case ValueType::u8:
    case ValueType::i8:
    case ValueType::boolean: return 1;
    case ValueType::u16:
    case ValueType::i16: return 2;
    case ValueType::u32:
    case ValueType::i32:
    case ValueType::f32: return 4;
    case ValueType::u64:
    case ValueType::i64:
    case ValueType::f64:
    case ValueType::string: return 8;   // the length
    case ValueType::array: return 12;   // element type and count
  }
  return 1;
}

// The smallest key/value pair (empty key, u8 value) and tensor info (empty name, one dimension).
constexpr std::uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

struct GgmlType {
  std::uint32_t id;
  std::string_view name;
  std::optional<DType> dtype;
};

// ggml's type ids; the gaps are ids ggml retired.
constexpr std::array<GgmlType, 34> kGgmlTypes{{
    {0, "F32", DType::f32},       {1, "F16", DType::f16},      {2, "Q4_0", DType::q4_0},
    {3, "Q4_1", DType::q4_1},              {6, "Q5_0", DType::q5_0},             {7, "Q5_1", DType::q5_1},
    {8, "Q8_0", DType::q8_0},     {9, "Q8_1", {}},             {10, "Q2_K", DType::q2_K},
    {11, "Q3_K", DType::q3_K},             {12, "Q4_K", DType::q4_K},            {13, "Q5_K", DType::q5_K},
    {14, "Q6_K", DType::q6_K},             {15, "Q8_K", {}},            {16, "IQ2_XXS", {}},
    {17, "IQ2_XS", {}},           {18, "IQ3_XXS", {}},         {19, "IQ1_S", {}},
    {20, "IQ4_NL", DType::iq4_nl},           {21, "IQ3_S", {}},           {22, "IQ2_S", {}},
    {23, "IQ4_XS", DType::iq4_xs},           {24, "I8", DType::i8},       {25, "I16", {}},
    {26, "I32", DType::i32},      {27, "I64", {}},             {28, "F64", DType::f64},
    {29, "IQ1_M", {}},            {30, "BF16", DType::bf16},   {31, "Q4_0_4_4", {}},
    {32, "Q4_0_4_8", {}},         {33, "Q4_0_8_8", {}},        {34, "TQ1_0", {}},
    {35, "TQ2_0", {}},
}};

const GgmlType* find_ggml_type(std::uint32_t id) {
  for (const auto& t : kGgmlTypes)
    if (t.id == id) return &t;
  return nullptr;
}

std::string supported_ggml_types() {
  std::string out;
  for (const auto& t : kGgmlTypes)
    if (t.dtype) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

std::string quoted(std::string_view s) {
  // Names come from the file: keep messages one printable line whatever they hold.
  constexpr std::size_t kMaxShown = 80;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (s.size() > kMaxShown) out += "...";
  return out + "'";
}

// Reads the mapped file front to back. Every read checks its length against what is left, so
// no position can pass the end, and lengths are compared with `left()` rather than added to
// the position, so a length near 2^64 cannot wrap.
class Cursor {
 public:
  Cursor(const std::string& path, const std::byte* data, std::uint64_t size)
      : path_(path), data_(data), size_(size) {}

  std::uint64_t pos() const { return pos_; }
  std::uint64_t left() const { return size_ - pos_; }

  // What is being read, for messages: "key 'general.name'", "tensor 'output.weight'".
  std::string context;
  // Indices of the array elements being read, outermost first.
  std::vector<std::uint64_t> element_path;

  [[noreturn]] void fail(const std::string& problem) const {
    std::string where = context;
    for (const auto i : element_path) where += " element " + std::to_string(i);
    throw InputError(path_ + ": " + (where.empty() ? "" : where + ": ") + problem);
  }

  // `what` + `suffix` names the field in a message; two parts so that the common case builds
  // no string (this runs once per element of a 128k-entry vocabulary).
  const std::byte* take(std::uint64_t n, std::string_view what, std::string_view suffix = {}) {
    if (n > left())
      fail(std::string(what) + std::string(suffix) + " (" + std::to_string(n) + " bytes at byte " +
           std::to_string(pos_) + ") runs past the end of the file (size " + std::to_string(size_) + ")");
    const auto* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  std::uint64_t uint(unsigned bytes, std::string_view what, std::string_view suffix = {}) {
    const auto* p = take(bytes, what, suffix);
    std::uint64_t v = 0;  // little-endian, whatever the host
    for (unsigned i = 0; i < bytes; ++i) v |= std::uint64_t{std::to_integer<std::uint8_t>(p[i])} << (8 * i);
    return v;
  }
  std::uint32_t u32(std::string_view what) { return static_cast<std::uint32_t>(uint(4, what)); }
  std::uint64_t u64(std::string_view what) { return uint(8, what); }

  std::string str(std::string_view what) {
    const auto length = uint(8, what, " length");
    if (length > left())
      fail(std::string(what) + " length " + std::to_string(length) + " (at byte " +
           std::to_string(pos_ - 8) + ") runs past the end of the file (" + std::to_string(left()) +
           " bytes left, size " + std::to_string(size_) + ")");
    const auto* p = take(length, what);
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(length)};
  }

 private:
  const std::string& path_;
  const std::byte* data_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
};

class MetadataParser {
 public:
  explicit MetadataParser(Cursor& c) : c_(c) {}

  ValueType type(std::string_view what) {
    const auto t = c_.u32(what);
    if (!valid_type(t))
      c_.fail(std::string(what) + " " + std::to_string(t) + " is unknown (known: 0 to 12)");
    return static_cast<ValueType>(t);
  }

  // `depth`: how many arrays enclose the value.
  Value value(ValueType t, int depth) {
    Value v;
    v.type = t;
    switch (t) {
      case ValueType::u8: v.scalar = c_.uint(1, "the u8 value"); break;
      case ValueType::u16: v.scalar = c_.uint(2, "the u16 value"); break;
      case ValueType::u32: v.scalar = c_.uint(4, "the u32 value"); break;
      case ValueType::u64: v.scalar = c_.uint(8, "the u64 value"); break;
      // The narrow cast keeps the low bytes, two's complement: the stored signed value.
      case ValueType::i8: v.scalar = std::int64_t{static_cast<std::int8_t>(c_.uint(1, "the i8 value"))}; break;
      case ValueType::i16:
        v.scalar = std::int64_t{static_cast<std::int16_t>(c_.uint(2, "the i16 value"))};
        break;
      case ValueType::i32:
        v.scalar = std::int64_t{static_cast<std::int32_t>(c_.uint(4, "the i32 value"))};
        break;
      case ValueType::i64: v.scalar = static_cast<std::int64_t>(c_.uint(8, "the i64 value")); break;
      case ValueType::f32: v.scalar = double{std::bit_cast<float>(c_.u32("the f32 value"))}; break;
      case ValueType::f64: v.scalar = std::bit_cast<double>(c_.u64("the f64 value")); break;
      case ValueType::boolean: {
        const auto b = c_.uint(1, "the bool value");
        if (b > 1) c_.fail("bool value is " + std::to_string(b) + ", expected 0 or 1");
        v.scalar = b == 1;
        break;
      }
      case ValueType::string: v.scalar = c_.str("the string"); break;
      case ValueType::array: array(v, depth + 1); break;
    }
    return v;
  }

  // Counts one more value against kMaxMetadataValues.
  void count(std::uint64_t n) {
    if (n > kMaxMetadataValues - values_)
      c_.fail("the metadata holds more than " + std::to_string(kMaxMetadataValues) +
              " values in all (key/value pairs and array elements), the reader's limit");
    values_ += n;
  }

 private:
  // `depth`: 1 for an array that is a key's value, 2 for an array in it, ...
  void array(Value& v, int depth) {
    v.element_type = type("the array element type");
    if (v.element_type == ValueType::array && depth >= kMaxArrayDepth)
      c_.fail("arrays nested more than " + std::to_string(kMaxArrayDepth) + " deep");
    const auto n = c_.u64("the array count");
    const auto min_bytes = min_encoded_bytes(v.element_type);
    // Checked before anything is reserved: a count the rest of the file cannot hold is a lie.
    if (n > c_.left() / min_bytes)
      c_.fail("array count " + std::to_string(n) + " of " + std::string(type_name(v.element_type)) +
              " (at least " + std::to_string(min_bytes) + " bytes each) runs past the end of the file (" +
              std::to_string(c_.left()) + " bytes left)");
    count(n);
    v.elements.reserve(static_cast<std::size_t>(n));
    c_.element_path.push_back(0);
    for (std::uint64_t i = 0; i < n; ++i) {
      c_.element_path.back() = i;
      v.elements.push_back(value(v.element_type, depth));
    }
    c_.element_path.pop_back();
  }

  Cursor& c_;
  std::uint64_t values_ = 0;
};

}  // namespace

std::string_view type_name(ValueType t) {
  static constexpr std::array<std::string_view, 13> kNames{
      "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < kNames.size() ? kNames[i] : "unknown";
}

std::string_view ggml_type_name(std::uint32_t ggml_type) {
  const auto* t = find_ggml_type(ggml_type);
  return t ? t->name : std::string_view{};
}

std::optional<DType> dtype_of_ggml(std::uint32_t ggml_type) {
  const auto* t = find_ggml_type(ggml_type);
  return t ? t->dtype : std::nullopt;
}

std::optional<std::uint32_t> ggml_type_of(DType d) {
  for (const auto& t : kGgmlTypes)
    if (t.dtype == d) return t.id;
  return std::nullopt;
}

std::uint64_t TensorInfo::elements() const {
  std::uint64_t n = 1;
  for (const auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

// ---------------------------------------------------------------------------------------------
// File

File File::open(const std::string& path) {
  File f;
  f.path_ = path;
  // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError(path + ": cannot open: " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw InputError(path + ": cannot stat: " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw InputError(path + ": not a regular file, expected a GGUF file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    throw InputError(path + ": empty file (0 bytes), expected a GGUF file (its header alone is " +
                     std::to_string(kHeaderBytes) + " bytes)");
  }
  f.size_ = static_cast<std::size_t>(st.st_size);
  void* p = ::mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  ::close(fd);  // the mapping keeps the file
  if (p == MAP_FAILED) throw InputError(path + ": cannot map: " + errno_text(err));
  f.base_ = static_cast<const std::byte*>(p);
  f.parse();  // on a throw, f's destructor unmaps
  return f;
}

File::File(File&& other) noexcept { *this = std::move(other); }

File& File::operator=(File&& other) noexcept {
  if (this == &other) return *this;
  unmap();
  path_ = std::move(other.path_);
  base_ = std::exchange(other.base_, nullptr);
  size_ = std::exchange(other.size_, 0);
  version_ = other.version_;
  alignment_ = other.alignment_;
  data_offset_ = other.data_offset_;
  // The tensors' data pointers point into the mapping, which moves along unchanged.
  metadata_ = std::move(other.metadata_);
  key_index_ = std::move(other.key_index_);
  tensors_ = std::move(other.tensors_);
  tensor_index_ = std::move(other.tensor_index_);
  return *this;
}

File::~File() { unmap(); }

void File::unmap() noexcept {
  if (base_ != nullptr) ::munmap(const_cast<std::byte*>(base_), size_);
  base_ = nullptr;
}

void File::drop_resident(std::span<const std::byte> range) const noexcept {
  // Compared as addresses: a range past the mapping is not a pointer into it.
  const auto base = reinterpret_cast<std::uintptr_t>(base_), at = reinterpret_cast<std::uintptr_t>(range.data());
  if (base_ == nullptr || at < base || range.size() > size_ || at - base > size_ - range.size()) return;
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (at + page - 1) / page * page;
  const auto end = (at + range.size()) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

void File::parse() {
  Cursor c(path_, base_, size_);

  if (size_ < kMagic.size())
    c.fail("file is " + std::to_string(size_) + " bytes, too short for a GGUF file (its header alone is " +
           std::to_string(kHeaderBytes) + " bytes)");
  const auto* magic = c.take(kMagic.size(), "the magic");
  if (!std::equal(kMagic.begin(), kMagic.end(), magic,
                  [](std::uint8_t want, std::byte got) { return std::byte{want} == got; })) {
    std::string found, hex;
    for (std::size_t i = 0; i < kMagic.size(); ++i) {
      const auto b = std::to_integer<unsigned char>(magic[i]);
      static constexpr char kHex[] = "0123456789abcdef";
      found += static_cast<char>(b);
      hex += std::string(i ? " " : "") + kHex[b >> 4] + kHex[b & 15];
    }
    c.fail("not a GGUF file: it starts with " + quoted(found) + " (" + hex +
           "), expected the magic 'GGUF' (47 47 55 46)");
  }
  c.context = "header";
  version_ = c.u32("the version");
  if (version_ != kVersion)
    c.fail("version " + std::to_string(version_) + " is not supported, only " + std::to_string(kVersion) +
           (version_ == 0x03000000u ? " (this is a big-endian GGUF file; only little-endian is read)" : ""));
  const auto tensor_count = c.u64("the tensor count");
  const auto kv_count = c.u64("the metadata key/value count");

  // The counts are checked against what the rest of the file could hold before anything is
  // reserved for them, so 2^63 fails here at once instead of in the allocator.
  const auto rest = c.left();
  if (kv_count > rest / kMinKvBytes)
    c.fail("metadata key/value count " + std::to_string(kv_count) + " cannot fit in the " +
           std::to_string(rest) + " bytes after the header (at least " + std::to_string(kMinKvBytes) +
           " bytes each)");
  if (tensor_count > rest / kMinTensorInfoBytes)
    c.fail("tensor count " + std::to_string(tensor_count) + " cannot fit in the " + std::to_string(rest) +
           " bytes after the header (at least " + std::to_string(kMinTensorInfoBytes) + " bytes each)");
  if (kv_count * kMinKvBytes > rest - tensor_count * kMinTensorInfoBytes)  // no overflow: both <= rest
    c.fail("metadata key/value count " + std::to_string(kv_count) + " and tensor count " +
           std::to_string(tensor_count) + " cannot fit together in the " + std::to_string(rest) +
           " bytes after the header");
  if (tensor_count > kMaxTensors)
    c.fail("tensor count " + std::to_string(tensor_count) + " is beyond the reader's limit of " +
           std::to_string(kMaxTensors));

  if (kv_count > kMaxMetadataKeys)
    c.fail("metadata key/value count " + std::to_string(kv_count) + " is beyond the reader's limit of " +
           std::to_string(kMaxMetadataKeys));

  MetadataParser meta(c);
  meta.count(kv_count);
  metadata_.reserve(static_cast<std::size_t>(kv_count));
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    c.context = "metadata pair " + std::to_string(i) + " of " + std::to_string(kv_count);
    auto key = c.str("the key");
    c.context = "key " + quoted(key);
    if (const auto it = key_index_.find(key); it != key_index_.end())
      c.fail("duplicate key (pair " + std::to_string(it->second) + " has it too)");
    const auto type = meta.type("the value type");
    auto value = meta.value(type, 0);
    if (key == kAlignmentKey) {
      if (type != ValueType::u32)
        c.fail("is a " + std::string(type_name(type)) + ", expected u32");
      const auto a = std::get<std::uint64_t>(value.scalar);
      if (!is_power_of_two(a))
        c.fail("is " + std::to_string(a) + ", expected a power of two (and not 0)");
      alignment_ = static_cast<std::uint32_t>(a);
    }
    key_index_.emplace(key, metadata_.size());
    metadata_.emplace_back(std::move(key), std::move(value));
  }

  c.context.clear();
  if (tensor_count > c.left() / kMinTensorInfoBytes)
    c.fail("tensor count " + std::to_string(tensor_count) + " cannot fit in the " +
           std::to_string(c.left()) + " bytes after the metadata (at least " +
           std::to_string(kMinTensorInfoBytes) + " bytes each)");
  tensors_.reserve(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    c.context = "tensor info " + std::to_string(i) + " of " + std::to_string(tensor_count);
    TensorInfo t;
    t.name = c.str("the tensor name");
    c.context = "tensor " + quoted(t.name);
    if (const auto it = tensor_index_.find(t.name); it != tensor_index_.end())
      c.fail("duplicate tensor name (tensor info " + std::to_string(it->second) + " has it too)");

    const auto n_dims = c.u32("the number of dimensions");
    if (n_dims == 0 || n_dims > kMaxDims)
      c.fail("has " + std::to_string(n_dims) + " dimensions, expected 1 to " + std::to_string(kMaxDims));
    std::array<std::uint64_t, kMaxDims> ne{};
    std::uint64_t elements = 1;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const auto what = "ne[" + std::to_string(d) + "]";
      ne[d] = c.u64(what);
      if (ne[d] == 0) c.fail(what + " is 0, expected every dimension to be at least 1");
      if (ne[d] > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        c.fail(what + " is " + std::to_string(ne[d]) + ", beyond the int64 range");
      // elements * ne[d] <= limit exactly when ne[d] <= limit / elements: no product can wrap.
      if (ne[d] > kMaxTensorElements / elements)
        c.fail("has more than " + std::to_string(kMaxTensorElements) +
               " elements (2^48, the reader's limit) at " + what + " = " + std::to_string(ne[d]));
      elements *= ne[d];
    }

    const auto ggml = c.u32("the tensor type");
    const auto dtype = dtype_of_ggml(ggml);
    if (!dtype) {
      const auto name = ggml_type_name(ggml);
      c.fail("type " + std::to_string(ggml) + " (" + (name.empty() ? "unknown to ggml" : std::string(name)) +
             ") is not supported; supported: " + supported_ggml_types());
    }
    t.dtype = *dtype;
    const auto block = traits(t.dtype).block_elements;
    if (ne[0] % block != 0)
      c.fail("ne[0] (the contiguous dimension) is " + std::to_string(ne[0]) + ", not a multiple of the " +
             std::string(ggml_type_name(ggml)) + " block of " + std::to_string(block));
    t.offset = c.u64("the data offset");

    t.shape.reserve(n_dims);
    for (std::uint32_t d = n_dims; d-- > 0;) t.shape.push_back(static_cast<std::int64_t>(ne[d]));
    t.bytes = storage_bytes(t.dtype, static_cast<std::size_t>(elements));  // whole blocks: checked
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The data section: after the tensor infos, at the next multiple of the alignment. Positions
  // are at most the file size, far from 2^64, so the rounding cannot wrap.
  c.context.clear();
  const auto infos_end = c.pos();
  data_offset_ = infos_end + (alignment_ - infos_end % alignment_) % alignment_;
  if (!tensors_.empty() && data_offset_ > size_)
    c.fail("the data section would start at byte " + std::to_string(data_offset_) +
           " (the tensor infos end at byte " + std::to_string(infos_end) + ", aligned to " +
           std::to_string(alignment_) + "), past the end of the file (size " + std::to_string(size_) + ")");
  for (auto& t : tensors_) {
    c.context = "tensor " + quoted(t.name);
    if (t.offset % alignment_ != 0)
      c.fail("data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
             std::to_string(alignment_));
    const std::uint64_t room = size_ - data_offset_;
    if (t.offset > room || t.bytes > room - t.offset)
      c.fail("data [offset " + std::to_string(t.offset) + ", " + std::to_string(t.bytes) +
             " bytes] runs past the end of the file (size " + std::to_string(size_) +
             "; the data section starts at byte " + std::to_string(data_offset_) + ")");
    t.data = base_ + data_offset_ + t.offset;
  }
  // No two tensors may share bytes: a file whose tensors overlap describes weights that are
  // not what their names say (one write of a "different" tensor changes another), which no
  // writer produces on purpose. Sorted by offset, each must end before the next begins.
  c.context.clear();
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : tensors_)
    if (t.bytes > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo& a = *by_offset[i - 1];
    const TensorInfo& b = *by_offset[i];
    if (a.offset + a.bytes > b.offset)
      c.fail("the data of tensor " + quoted(a.name) + " [offset " + std::to_string(a.offset) + ", " +
             std::to_string(a.bytes) + " bytes] overlaps tensor " + quoted(b.name) + " at offset " +
             std::to_string(b.offset) + "; every tensor must have bytes of its own");
  }
}

const Value* File::find(std::string_view key) const {
  const auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const TensorInfo* File::tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {
[[noreturn]] void wrong_type(const std::string& path, std::string_view key, const Value& v,
                             std::string_view expected) {
  throw InputError(path + ": key " + quoted(key) + " is a " + std::string(type_name(v.type)) +
                   ", expected " + std::string(expected));
}

bool is_unsigned(ValueType t) {
  return t == ValueType::u8 || t == ValueType::u16 || t == ValueType::u32 || t == ValueType::u64;
}
bool is_signed(ValueType t) {
  return t == ValueType::i8 || t == ValueType::i16 || t == ValueType::i32 || t == ValueType::i64;
}
}  // namespace

std::optional<std::int64_t> File::get_int(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (is_signed(v->type)) return std::get<std::int64_t>(v->scalar);
  if (!is_unsigned(v->type)) wrong_type(path_, key, *v, "an integer");
  const auto u = std::get<std::uint64_t>(v->scalar);
  if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw InputError(path_ + ": key " + quoted(key) + " is " + std::to_string(u) +
                     ", beyond the int64 range");
  return static_cast<std::int64_t>(u);
}

std::optional<double> File::get_float(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type == ValueType::f32 || v->type == ValueType::f64) return std::get<double>(v->scalar);
  if (is_signed(v->type)) return static_cast<double>(std::get<std::int64_t>(v->scalar));
  if (is_unsigned(v->type)) return static_cast<double>(std::get<std::uint64_t>(v->scalar));
  wrong_type(path_, key, *v, "a number");
}

std::optional<std::string> File::get_string(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != ValueType::string) wrong_type(path_, key, *v, "a string");
  return std::get<std::string>(v->scalar);
}

std::optional<bool> File::get_bool(std::string_view key) const {
  const auto* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (v->type != ValueType::boolean) wrong_type(path_, key, *v, "a bool");
  return std::get<bool>(v->scalar);
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

[[noreturn]] void misuse(const std::string& what) { throw std::invalid_argument("gguf::Writer: " + what); }

// Throws unless `v` is what the reader would give back: the payload kind its type says, in
// range for the width, arrays homogeneous and nested no deeper than the reader accepts.
// `level`: how many arrays enclose `v`. Returns how many values it holds (itself included).
std::uint64_t check_value(const Value& v, int level, const std::string& where) {
  if (!valid_type(static_cast<std::uint32_t>(v.type)))
    misuse(where + ": value type " + std::to_string(static_cast<std::uint32_t>(v.type)) + " is unknown");
  const auto kind = std::string(type_name(v.type));
  auto holds = [&](bool ok) {
    if (!ok) misuse(where + ": a " + kind + " value holds the wrong kind of payload");
  };
  auto fits = [&](bool ok) {
    if (!ok) misuse(where + ": value out of range for " + kind);
  };
  switch (v.type) {
    case ValueType::u8:
    case ValueType::u16:
    case ValueType::u32:
    case ValueType::u64: {
      holds(std::holds_alternative<std::uint64_t>(v.scalar));
      const auto u = std::get<std::uint64_t>(v.scalar);
      fits(v.type == ValueType::u64 || u <= (v.type == ValueType::u8    ? 0xffu
                                             : v.type == ValueType::u16 ? 0xffffu
                                                                        : 0xffffffffu));
      return 1;
    }
    case ValueType::i8:
    case ValueType::i16:
    case ValueType::i32:
    case ValueType::i64: {
      holds(std::holds_alternative<std::int64_t>(v.scalar));
      const auto i = std::get<std::int64_t>(v.scalar);
      const std::int64_t bound = v.type == ValueType::i8    ? 0x80
                                 : v.type == ValueType::i16 ? 0x8000
                                                            : std::int64_t{0x80000000};
      fits(v.type == ValueType::i64 || (i >= -bound && i < bound));
      return 1;
    }
    case ValueType::f32: {
      holds(std::holds_alternative<double>(v.scalar));
      const auto d = std::get<double>(v.scalar);
      fits(!std::isfinite(d) || std::fabs(d) <= std::numeric_limits<float>::max());
      return 1;
    }
    case ValueType::f64: holds(std::holds_alternative<double>(v.scalar)); return 1;
    case ValueType::boolean: holds(std::holds_alternative<bool>(v.scalar)); return 1;
    case ValueType::string: holds(std::holds_alternative<std::string>(v.scalar)); return 1;
    case ValueType::array: break;
  }
  if (!valid_type(static_cast<std::uint32_t>(v.element_type)))
    misuse(where + ": array element type " + std::to_string(static_cast<std::uint32_t>(v.element_type)) +
           " is unknown");
  if (v.element_type == ValueType::array && level + 1 >= kMaxArrayDepth)
    misuse(where + ": arrays nested more than " + std::to_string(kMaxArrayDepth) + " deep");
  std::uint64_t n = 1;
  for (std::size_t i = 0; i < v.elements.size(); ++i) {
    const auto& e = v.elements[i];
    if (e.type != v.element_type)
      misuse(where + ": element " + std::to_string(i) + " is a " + std::string(type_name(e.type)) +
             " in an array of " + std::string(type_name(v.element_type)));
    n += check_value(e, level + 1, where);
  }
  return n;
}

class Out {
 public:
  void uint(std::uint64_t v, unsigned bytes) {
    for (unsigned i = 0; i < bytes; ++i) buf_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  void u32(std::uint32_t v) { uint(v, 4); }
  void u64(std::uint64_t v) { uint(v, 8); }
  void str(std::string_view s) {
    u64(s.size());
    buf_.append(s);
  }
  void pad_to(std::uint64_t alignment) {
    while (buf_.size() % alignment != 0) buf_.push_back('\0');
  }
  void value(const Value& v) {
    switch (v.type) {
      case ValueType::u8: uint(std::get<std::uint64_t>(v.scalar), 1); break;
      case ValueType::u16: uint(std::get<std::uint64_t>(v.scalar), 2); break;
      case ValueType::u32: uint(std::get<std::uint64_t>(v.scalar), 4); break;
      case ValueType::u64: uint(std::get<std::uint64_t>(v.scalar), 8); break;
      // Two's complement: the low bytes of the int64 are the narrower integer.
      case ValueType::i8: uint(static_cast<std::uint64_t>(std::get<std::int64_t>(v.scalar)), 1); break;
      case ValueType::i16: uint(static_cast<std::uint64_t>(std::get<std::int64_t>(v.scalar)), 2); break;
      case ValueType::i32: uint(static_cast<std::uint64_t>(std::get<std::int64_t>(v.scalar)), 4); break;
      case ValueType::i64: uint(static_cast<std::uint64_t>(std::get<std::int64_t>(v.scalar)), 8); break;
      case ValueType::f32:
        u32(std::bit_cast<std::uint32_t>(static_cast<float>(std::get<double>(v.scalar))));
        break;
      case ValueType::f64: u64(std::bit_cast<std::uint64_t>(std::get<double>(v.scalar))); break;
      case ValueType::boolean: uint(std::get<bool>(v.scalar) ? 1 : 0, 1); break;
      case ValueType::string: str(std::get<std::string>(v.scalar)); break;
      case ValueType::array:
        u32(static_cast<std::uint32_t>(v.element_type));
        u64(v.elements.size());
        for (const auto& e : v.elements) value(e);
        break;
    }
  }
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

std::uint64_t round_up(std::uint64_t n, std::uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// The temporary file of Writer::write: removed unless renamed into place.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) fail("cannot create");
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!renamed_) ::unlink(path_.c_str());
  }

  void write(const void* data, std::size_t n) {
    const auto* p = static_cast<const char*>(data);
    while (n > 0) {
      const auto done = ::write(fd_, p, n);
      if (done < 0) {
        if (errno == EINTR) continue;
        fail("cannot write");
      }
      p += done;
      n -= static_cast<std::size_t>(done);
    }
  }

  void commit(const std::string& target) {
    if (::fsync(fd_) != 0) fail("cannot sync");
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail("cannot close");
    if (::rename(path_.c_str(), target.c_str()) != 0)
      throw std::runtime_error(target + ": cannot replace: " + errno_text(errno));
    renamed_ = true;
    // Without this the rename may be lost on power failure even though the data is on disk.
    const auto slash = target.find_last_of('/');
    const auto dir = slash == std::string::npos ? std::string(".") : target.substr(0, slash + 1);
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(path_ + ": " + what + ": " + errno_text(errno));
  }

  std::string path_;
  int fd_ = -1;
  bool renamed_ = false;
};

}  // namespace

void Writer::set(std::string key, Value v) {
  if (key.empty() || key.size() > 65535)
    misuse("a key must be 1 to 65535 bytes, not " + std::to_string(key.size()));
  const auto where = "key " + quoted(key);
  check_value(v, 0, where);
  if (key == kAlignmentKey) {
    if (v.type != ValueType::u32) misuse(where + " must be a u32, not a " + std::string(type_name(v.type)));
    const auto a = std::get<std::uint64_t>(v.scalar);
    if (!is_power_of_two(a)) misuse(where + " is " + std::to_string(a) + ", expected a power of two");
    alignment_ = static_cast<std::uint32_t>(a);
  }
  for (auto& [k, old] : metadata_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  metadata_.emplace_back(std::move(key), std::move(v));
}

void Writer::set_string_array(std::string key, const std::vector<std::string>& v) {
  std::vector<Value> elements;
  elements.reserve(v.size());
  for (const auto& s : v) elements.push_back(Value::string(s));
  set(std::move(key), Value::array(ValueType::string, std::move(elements)));
}

void Writer::set_f32_array(std::string key, const std::vector<float>& v) {
  std::vector<Value> elements;
  elements.reserve(v.size());
  for (const auto x : v) elements.push_back(Value::f32(x));
  set(std::move(key), Value::array(ValueType::f32, std::move(elements)));
}

void Writer::set_i32_array(std::string key, const std::vector<std::int32_t>& v) {
  std::vector<Value> elements;
  elements.reserve(v.size());
  for (const auto x : v) elements.push_back(Value::i32(x));
  set(std::move(key), Value::array(ValueType::i32, std::move(elements)));
}

void Writer::add_tensor(std::string name, std::vector<std::int64_t> shape, DType dtype,
                        std::function<void(std::span<std::byte>)> fill) {
  const auto where = "tensor " + quoted(name);
  if (name.empty() || name.size() > 64) misuse(where + ": a name must be 1 to 64 bytes (GGUF)");
  for (const auto& t : tensors_)
    if (t.name == name) misuse(where + " added twice");
  if (tensors_.size() >= kMaxTensors) misuse("more than " + std::to_string(kMaxTensors) + " tensors");
  if (!ggml_type_of(dtype)) misuse(where + ": GGUF has no tensor type for " + std::string(xpb::name(dtype)));
  if (shape.empty() || shape.size() > kMaxDims)
    misuse(where + " has " + std::to_string(shape.size()) + " dimensions, expected 1 to " +
           std::to_string(kMaxDims));
  std::uint64_t elements = 1;
  for (const auto d : shape) {
    if (d < 1) misuse(where + ": dimension " + std::to_string(d) + ", expected at least 1");
    if (static_cast<std::uint64_t>(d) > kMaxTensorElements / elements)
      misuse(where + " has more than " + std::to_string(kMaxTensorElements) + " elements");
    elements *= static_cast<std::uint64_t>(d);
  }
  const auto block = traits(dtype).block_elements;
  if (static_cast<std::uint64_t>(shape.back()) % block != 0)
    misuse(where + ": the last (contiguous) dimension " + std::to_string(shape.back()) +
           " is not a multiple of the " + std::string(xpb::name(dtype)) + " block of " +
           std::to_string(block));
  if (!fill) misuse(where + " has no fill function");
  const auto bytes = storage_bytes(dtype, static_cast<std::size_t>(elements));
  tensors_.push_back({std::move(name), std::move(shape), dtype, bytes, std::move(fill)});
}

void Writer::write(const std::string& path) const {
  std::uint64_t values = 0;
  for (const auto& [key, v] : metadata_) values += check_value(v, 0, "key " + quoted(key));
  const bool has_alignment = std::any_of(metadata_.begin(), metadata_.end(),
                                         [](const auto& kv) { return kv.first == kAlignmentKey; });
  if (values + (has_alignment ? 0 : 1) > kMaxMetadataValues)
    misuse("the metadata holds more than " + std::to_string(kMaxMetadataValues) +
           " values in all, more than the reader accepts");

  Out head;
  for (const auto b : kMagic) head.uint(b, 1);
  head.u32(kVersion);
  head.u64(tensors_.size());
  head.u64(metadata_.size() + (has_alignment ? 0 : 1));
  for (const auto& [key, v] : metadata_) {
    head.str(key);
    head.u32(static_cast<std::uint32_t>(v.type));
    head.value(v);
  }
  if (!has_alignment) {
    head.str(kAlignmentKey);
    head.u32(static_cast<std::uint32_t>(ValueType::u32));
    head.u32(alignment_);
  }
  std::uint64_t offset = 0;
  std::uint64_t largest = 0;
  for (const auto& t : tensors_) {
    head.str(t.name);
    head.u32(static_cast<std::uint32_t>(t.shape.size()));
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) head.u64(static_cast<std::uint64_t>(*d));
    head.u32(*ggml_type_of(t.dtype));
    head.u64(offset);
    const auto padded = round_up(t.bytes, alignment_);
    offset += padded;
    largest = std::max(largest, padded);
  }
  head.pad_to(alignment_);

  TempFile out(path + ".tmp." + std::to_string(::getpid()));
  out.write(head.bytes().data(), head.bytes().size());
  // One buffer for all tensors, as big as the largest: a model is never in memory whole.
  std::vector<std::byte> buffer(static_cast<std::size_t>(largest));
  bool first = true;
  for (const auto& t : tensors_) {
    const auto padded = static_cast<std::size_t>(round_up(t.bytes, alignment_));
    if (!first) std::fill_n(buffer.begin(), padded, std::byte{0});
    first = false;
    t.fill(std::span<std::byte>(buffer.data(), t.bytes));
    out.write(buffer.data(), padded);
  }
  out.commit(path);
}

}  // namespace xpb::gguf
