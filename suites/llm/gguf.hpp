// GGUF v3 model files (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md): a reader
// that maps the file read-only and checks every count, length, shape and offset against the file
// before using it, and a writer that produces a file tensor by tensor.
//
// The reader is meant for files from anywhere. On a damaged or hostile file File::open throws
// xpb::InputError whose message starts with the path and says what was found and what was
// expected; it never reads outside the file, never loops longer than the file is long and never
// allocates more than the limits below allow, whatever the counts in the file claim.
//
// Layout recap (all little-endian): "GGUF", u32 version, u64 tensor_count, u64 kv_count; the
// key/value pairs; the tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64
// offset); padding to `general.alignment` (default 32); the data section. A tensor's offset is
// counted from the start of the data section.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "xpubench/dtype.hpp"

namespace xpb::gguf {

inline constexpr std::uint32_t kVersion = 3;             // the only version read or written
inline constexpr std::uint32_t kDefaultAlignment = 32;   // when general.alignment is absent
inline constexpr std::size_t kHeaderBytes = 24;          // magic, version and the two counts

// Limits beyond the format itself; real models stay far below them. Each bounds what a file
// can make the reader allocate or do, since the format's own counts are u64.
inline constexpr std::uint32_t kMaxDims = 4;                   // dimensions of a tensor
inline constexpr int kMaxArrayDepth = 4;                       // arrays nested in arrays
inline constexpr std::uint64_t kMaxTensorElements = 1ull << 48;
inline constexpr std::uint64_t kMaxTensors = 1ull << 18;      // ~250 bytes of memory each
inline constexpr std::uint64_t kMaxMetadataKeys = 1ull << 16;  // ~200 bytes each
// Key/value pairs plus array elements, all levels: a 262k-token vocabulary with scores and token
// types is about 0.8M. Each costs sizeof(Value) (80 bytes), so with the two limits above open()
// allocates at most about 450 MB, plus a copy of the file's metadata strings, whatever it reads.
inline constexpr std::uint64_t kMaxMetadataValues = 1ull << 22;

// GGUF metadata value types, numbered as in the file.
enum class ValueType : std::uint32_t {
  u8 = 0, i8, u16, i16, u32, i32, f32, boolean, string, array, u64, i64, f64
};
// "u8", "i8", ..., "bool", "string", "array"; "unknown" outside the enum.
std::string_view type_name(ValueType t);

// One metadata value. The payload of a scalar lives in `scalar`, by kind:
//   u8, u16, u32, u64 -> std::uint64_t     i8, i16, i32, i64 -> std::int64_t
//   f32, f64 -> double (an f32 converts exactly)   boolean -> bool   string -> std::string
// An array has type == array, its elements' type in `element_type` and the elements in
// `elements` (each with type == element_type; an array of arrays holds arrays whose element
// types may differ). Strings are bytes as stored: the reader does not check UTF-8.
// The factories make well-formed values; Writer::set rejects malformed ones.
struct Value {
  ValueType type = ValueType::u8;
  std::variant<std::uint64_t, std::int64_t, double, bool, std::string> scalar{std::uint64_t{0}};
  ValueType element_type = ValueType::u8;  // arrays only
  std::vector<Value> elements;             // arrays only

  static Value u8(std::uint8_t v) { return unsigned_of(ValueType::u8, v); }
  static Value u16(std::uint16_t v) { return unsigned_of(ValueType::u16, v); }
  static Value u32(std::uint32_t v) { return unsigned_of(ValueType::u32, v); }
  static Value u64(std::uint64_t v) { return unsigned_of(ValueType::u64, v); }
  static Value i8(std::int8_t v) { return signed_of(ValueType::i8, v); }
  static Value i16(std::int16_t v) { return signed_of(ValueType::i16, v); }
  static Value i32(std::int32_t v) { return signed_of(ValueType::i32, v); }
  static Value i64(std::int64_t v) { return signed_of(ValueType::i64, v); }
  static Value f32(float v) { return {ValueType::f32, double{v}, ValueType::u8, {}}; }
  static Value f64(double v) { return {ValueType::f64, v, ValueType::u8, {}}; }
  static Value boolean(bool v) { return {ValueType::boolean, v, ValueType::u8, {}}; }
  static Value string(std::string v) { return {ValueType::string, std::move(v), ValueType::u8, {}}; }
  static Value array(ValueType element_type, std::vector<Value> elements) {
    return {ValueType::array, std::uint64_t{0}, element_type, std::move(elements)};
  }

  bool operator==(const Value&) const = default;

 private:
  static Value unsigned_of(ValueType t, std::uint64_t v) { return {t, v, ValueType::u8, {}}; }
  static Value signed_of(ValueType t, std::int64_t v) { return {t, v, ValueType::u8, {}}; }
};

// ggml tensor type ids and their names ("Q4_K"; "" for an id ggml does not define).
std::string_view ggml_type_name(std::uint32_t ggml_type);
// The DType stored under a ggml type id: F32, F16, BF16, Q8_0, Q4_0, I8, I32, F64.
std::optional<DType> dtype_of_ggml(std::uint32_t ggml_type);
// The ggml type id of a DType; nullopt for u8, u32 and u64, which GGUF cannot store.
std::optional<std::uint32_t> ggml_type_of(DType t);

struct TensorInfo {
  std::string name;
  // Row-major, outermost first: the reverse of GGUF's ne[] (ne[0] is the contiguous dimension),
  // so a weight with ne = {4096, 14336} has shape {14336, 4096}: 14336 rows of 4096 elements.
  // 1 to kMaxDims entries, each >= 1, product <= kMaxTensorElements; for q8_0/q4_0 the last
  // entry is a multiple of the block (32).
  std::vector<std::int64_t> shape;
  DType dtype = DType::f32;
  std::uint64_t offset = 0;  // bytes from the start of the data section (File::data_offset())
  std::size_t bytes = 0;     // storage_bytes(dtype, elements)
  // The tensor's bytes as stored (little-endian, blocks as in ggml), inside the File's
  // read-only mapping: valid as long as the File (or the File it was moved into) lives.
  const std::byte* data = nullptr;

  std::uint64_t elements() const;
  std::span<const std::byte> span() const { return {data, bytes}; }
};

// An open GGUF file: the parsed metadata and tensor infos, and the file mapped read-only
// (PROT_READ, MAP_PRIVATE) for the tensor data. Move-only; unmaps in the destructor.
//
// What open() accepts beyond the format: tensors may appear in any order (each must lie wholly
// in the data section, at an offset that is a multiple of the alignment, and no two may share
// a byte); padding bytes are not checked;
// the last tensor need not be padded; a file without tensors may end before the data section;
// names of any length (ggml's own limit of 64 bytes is the writer's business). It rejects:
// versions other than 3, duplicate keys, duplicate tensor names, a bool byte other than 0 or 1,
// a general.alignment that is not a u32 power of two, dimensions of 0, and the limits above.
// Strings are not checked for UTF-8.
//
// The file must not be truncated by anyone while it is open: touching a tensor's pages past the
// new end would raise SIGBUS, which no check at open() can prevent.
class File {
 public:
  // Throws InputError("PATH: what is wrong") when the file cannot be read or is not a valid
  // GGUF v3 file within the limits above.
  static File open(const std::string& path);

  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File();

  const std::string& path() const { return path_; }
  std::uint32_t version() const { return version_; }
  std::uint32_t alignment() const { return alignment_; }
  std::size_t file_bytes() const { return size_; }
  // Byte offset in the file where the data section starts (a multiple of alignment()).
  std::uint64_t data_offset() const { return data_offset_; }

  // Every key/value pair in file order, general.alignment included when present.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  // nullopt when the key is absent; InputError naming the path and key when it holds another
  // type. get_int takes any integer type (a u64 beyond the int64 range is an error); get_float
  // takes f32, f64 and integers.
  std::optional<std::int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;

  // In file order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  // Takes the whole pages of `range` (bytes of this file's mapping, e.g. a tensor's data) out
  // of the process's resident memory once a device has its own copy: they stay in the page
  // cache, and a later read maps them again (the mapping is private and never written, so
  // nothing is lost). Without it, a model loaded from a file counts twice in the resident set:
  // the mapped file and the device's copy. Bytes outside the mapping are ignored.
  void drop_resident(std::span<const std::byte> range) const noexcept;
  const TensorInfo* tensor(std::string_view name) const;

 private:
  File() = default;
  void parse();
  void unmap() noexcept;

  std::string path_;
  const std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  std::uint32_t version_ = 0;
  std::uint32_t alignment_ = kDefaultAlignment;
  std::uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, std::size_t, std::less<>> key_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> tensor_index_;
};

// Builds a GGUF v3 file. Metadata and tensor descriptions are kept in memory; tensor data is
// produced by each tensor's `fill` at write() time, one tensor at a time, so memory holds at most
// the largest tensor. Misuse (a malformed Value, a bad shape, a duplicate tensor name) throws
// std::invalid_argument at once rather than producing a file the reader would refuse.
class Writer {
 public:
  // Adds a key (1 to 65535 bytes), or replaces its value in place when it is already set (the
  // order of keys in the file is the order of first setting). "general.alignment" sets the
  // alignment of the data section and must be a u32 power of two; when never set it is written
  // as u32 32 after the other keys (the writer always writes it explicitly). An f32 value is
  // written rounded to float; one beyond float's range is refused.
  void set(std::string key, Value v);
  void set_u8(std::string key, std::uint8_t v) { set(std::move(key), Value::u8(v)); }
  void set_u32(std::string key, std::uint32_t v) { set(std::move(key), Value::u32(v)); }
  void set_u64(std::string key, std::uint64_t v) { set(std::move(key), Value::u64(v)); }
  void set_i32(std::string key, std::int32_t v) { set(std::move(key), Value::i32(v)); }
  void set_i64(std::string key, std::int64_t v) { set(std::move(key), Value::i64(v)); }
  void set_f32(std::string key, float v) { set(std::move(key), Value::f32(v)); }
  void set_f64(std::string key, double v) { set(std::move(key), Value::f64(v)); }
  void set_bool(std::string key, bool v) { set(std::move(key), Value::boolean(v)); }
  void set_string(std::string key, std::string v) { set(std::move(key), Value::string(std::move(v))); }
  void set_string_array(std::string key, const std::vector<std::string>& v);
  void set_f32_array(std::string key, const std::vector<float>& v);
  void set_i32_array(std::string key, const std::vector<std::int32_t>& v);

  // `name`: 1 to 64 bytes, as the GGUF spec requires. `shape`: row-major, outermost first, as
  // TensorInfo::shape (written reversed as ne[]).
  // `fill` is called once per write() with a span of exactly storage_bytes(dtype, elements)
  // zeroed bytes and must store the tensor's bytes there; it may throw, which abandons the write.
  void add_tensor(std::string name, std::vector<std::int64_t> shape, DType dtype,
                  std::function<void(std::span<std::byte>)> fill);

  // Writes PATH.tmp.<pid>, fsyncs it and renames it over PATH, so PATH is either the old file or
  // the complete new one. Tensors are stored in the order added, each at the next multiple of the
  // alignment, each padded with zeros to a multiple of it. Throws std::runtime_error naming the
  // path on an I/O failure (and removes the temporary file).
  void write(const std::string& path) const;

  std::uint32_t alignment() const { return alignment_; }

 private:
  struct Tensor {
    std::string name;
    std::vector<std::int64_t> shape;
    DType dtype;
    std::size_t bytes;
    std::function<void(std::span<std::byte>)> fill;
  };
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
  std::uint32_t alignment_ = kDefaultAlignment;
};

}  // namespace xpb::gguf
