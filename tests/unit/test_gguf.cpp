// GGUF v3: what the writer writes the reader reads back unchanged, the writer's bytes are the
// format's, and every way a file can lie about itself is an InputError naming the file, never a
// crash, a hang or a huge allocation.
#include "gguf.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "xpubench/error.hpp"

namespace xpb::gguf {
namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();

// GGUF bytes put together by hand, independently of Writer, so a test can say exactly what
// a hostile file holds.
class Bytes {
 public:
  Bytes& raw(std::string_view s) {
    s_ += s;
    return *this;
  }
  Bytes& uint(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  Bytes& u8(std::uint8_t v) { return uint(v, 1); }
  Bytes& u32(std::uint32_t v) { return uint(v, 4); }
  Bytes& u64(std::uint64_t v) { return uint(v, 8); }
  Bytes& str(std::string_view s) { return u64(s.size()).raw(s); }
  Bytes& pad(std::size_t alignment) {
    while (s_.size() % alignment != 0) s_.push_back('\0');
    return *this;
  }
  Bytes& zeros(std::size_t n) {
    s_.append(n, '\0');
    return *this;
  }
  // A key and the type of its value; the value follows.
  Bytes& key(std::string_view k, ValueType t) { return str(k).u32(static_cast<std::uint32_t>(t)); }

  const std::string& bytes() const { return s_; }
  std::size_t size() const { return s_.size(); }

 private:
  std::string s_;
};

Bytes header(std::uint64_t tensors, std::uint64_t kvs, std::uint32_t version = 3) {
  Bytes b;
  b.raw("GGUF").u32(version).u64(tensors).u64(kvs);
  return b;
}

struct RawTensor {
  std::string name;
  std::vector<std::uint64_t> ne;
  std::uint32_t type = 0;
  std::uint64_t offset = 0;
};

Bytes& tensor_info(Bytes& b, const RawTensor& t) {
  b.str(t.name).u32(static_cast<std::uint32_t>(t.ne.size()));
  for (const auto d : t.ne) b.u64(d);
  return b.u32(t.type).u64(t.offset);
}

// A file with no key/value pairs, the given tensor infos, padding to 32 and `data` zero bytes.
std::string tensors_file(const std::vector<RawTensor>& tensors, std::size_t data) {
  auto b = header(tensors.size(), 0);
  for (const auto& t : tensors) tensor_info(b, t);
  return b.pad(32).zeros(data).bytes();
}

// Bytes from a seed: tensors full of a recognisable pattern.
void pattern(std::span<std::byte> out, unsigned seed) {
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>((i * 131 + seed * 17 + 7) & 0xff);
}

class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("xpb_gguf_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::string write_bytes(const std::string& bytes, const std::string& name = "f.gguf") const {
    const auto p = path(name);
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    EXPECT_TRUE(out) << p;
    return p;
  }

  static std::string read_bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // The message of the InputError that opening `p` must throw ("" and a failure otherwise).
  static std::string open_error(const std::string& p) {
    try {
      File::open(p);
    } catch (const InputError& e) {
      return e.what();
    }
    ADD_FAILURE() << p << " opened; expected an InputError";
    return {};
  }

  // Opening `bytes` must fail with a message that starts with the path and holds every part.
  void expect_error(const std::string& bytes, std::initializer_list<std::string_view> parts) {
    const auto p = write_bytes(bytes);
    const auto msg = open_error(p);
    EXPECT_EQ(msg.rfind(p + ": ", 0), 0u) << msg;
    for (const auto part : parts)
      EXPECT_NE(msg.find(part), std::string::npos) << "missing '" << part << "' in: " << msg;
  }

  // A writer with every kind of key and a tensor of each of three types: the base of the
  // truncation and corruption tests.
  static Writer sample_writer() {
    Writer w;
    w.set_string("general.architecture", "llama");
    w.set_u32("llama.context_length", 4096);
    w.set("small", Value::i8(-5));
    w.set_f32("llama.rope.freq_base", 500000.0f);
    w.set_bool("flag", true);
    w.set_string_array("tokenizer.ggml.tokens", {"<s>", "</s>", "hello", ""});
    w.set_f32_array("tokenizer.ggml.scores", {0.0f, -1.5f, 2.25f, 3.0f});
    w.set("nested", Value::array(ValueType::array, {Value::array(ValueType::u16, {Value::u16(7)}),
                                                    Value::array(ValueType::string, {Value::string("x")})}));
    w.set_u64("big", kU64Max);
    w.add_tensor("token_embd.weight", {4, 64}, DType::q8_0, [](std::span<std::byte> s) { pattern(s, 1); });
    w.add_tensor("blk.0.attn_q.weight", {2, 32}, DType::q4_0, [](std::span<std::byte> s) { pattern(s, 2); });
    w.add_tensor("output_norm.weight", {5}, DType::f32, [](std::span<std::byte> s) { pattern(s, 3); });
    return w;
  }

  fs::path dir_;
};

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_F(GgufTest, MetadataOfEveryTypeRoundTrips) {
  const std::vector<std::pair<std::string, Value>> keys = {
      {"u8", Value::u8(255)},
      {"i8", Value::i8(-128)},
      {"u16", Value::u16(65535)},
      {"i16", Value::i16(-32768)},
      {"u32", Value::u32(4294967295u)},
      {"i32", Value::i32(std::numeric_limits<std::int32_t>::min())},
      {"f32", Value::f32(-1.25e-3f)},
      {"f32.inf", Value::f32(std::numeric_limits<float>::infinity())},
      {"bool.true", Value::boolean(true)},
      {"bool.false", Value::boolean(false)},
      {"string", Value::string("héllo\nworld")},
      {"string.nul", Value::string(std::string("a\0b", 3))},
      {"string.empty", Value::string("")},
      {"u64", Value::u64(kU64Max)},
      {"i64", Value::i64(std::numeric_limits<std::int64_t>::min())},
      {"f64", Value::f64(3.141592653589793)},
      {"array.string",
       Value::array(ValueType::string, {Value::string("a"), Value::string(""), Value::string("ccc")})},
      {"array.i32", Value::array(ValueType::i32, {Value::i32(-1), Value::i32(2)})},
      {"array.empty", Value::array(ValueType::f64, {})},
      {"array.bool", Value::array(ValueType::boolean, {Value::boolean(true), Value::boolean(false)})},
      {"array.nested",
       Value::array(ValueType::array,
                    {Value::array(ValueType::u8, {Value::u8(1), Value::u8(2)}),
                     Value::array(ValueType::array,
                                  {Value::array(ValueType::array,
                                                {Value::array(ValueType::i64, {Value::i64(-9)})})})})},
  };
  Writer w;
  for (const auto& [k, v] : keys) w.set(k, v);
  w.set_i32_array("array.helper", {7, -8});
  w.set_u8("array.i32", 3);  // replaces in place, keeps the key's position
  const auto p = path("meta.gguf");
  w.write(p);

  const auto f = File::open(p);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.path(), p);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_TRUE(f.tensors().empty());
  EXPECT_EQ(f.file_bytes(), fs::file_size(p));
  auto expected = keys;
  for (auto& [k, v] : expected)
    if (k == "array.i32") v = Value::u8(3);
  expected.emplace_back("array.helper", Value::array(ValueType::i32, {Value::i32(7), Value::i32(-8)}));
  expected.emplace_back("general.alignment", Value::u32(32));  // written explicitly, after the rest
  ASSERT_EQ(f.metadata().size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].first, expected[i].first);
    EXPECT_TRUE(f.metadata()[i].second == expected[i].second) << expected[i].first;
  }
  ASSERT_NE(f.find("string.nul"), nullptr);
  EXPECT_EQ(std::get<std::string>(f.find("string.nul")->scalar), std::string("a\0b", 3));
  EXPECT_EQ(f.find("absent"), nullptr);
}

TEST_F(GgufTest, TensorsOfEveryDtypeRoundTrip) {
  struct Case {
    std::string name;
    std::vector<std::int64_t> shape;
    DType dtype;
  };
  const std::vector<Case> cases = {
      {"f32", {3, 5}, DType::f32},         {"f16", {7}, DType::f16},
      {"bf16", {2, 3, 4}, DType::bf16},    {"q8_0", {3, 64}, DType::q8_0},
      {"q4_0", {1, 2, 3, 32}, DType::q4_0}, {"i8", {33}, DType::i8},
      {"i32", {1, 1}, DType::i32},         {"f64", {4, 1}, DType::f64},
  };
  Writer w;
  w.set_string("general.name", "tensors");
  unsigned seed = 0;
  for (const auto& c : cases)
    w.add_tensor(c.name, c.shape, c.dtype, [s = ++seed](std::span<std::byte> out) { pattern(out, s); });
  const auto p = path("tensors.gguf");
  w.write(p);

  const auto f = File::open(p);
  ASSERT_EQ(f.tensors().size(), cases.size());
  EXPECT_EQ(f.data_offset() % 32, 0u);
  const auto* base = f.tensors()[0].data - f.tensors()[0].offset - f.data_offset();  // the mapping
  seed = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& t = f.tensors()[i];
    const auto& c = cases[i];
    SCOPED_TRACE(c.name);
    EXPECT_EQ(t.name, c.name);
    EXPECT_EQ(t.shape, c.shape);
    EXPECT_EQ(t.dtype, c.dtype);
    std::uint64_t elements = 1;
    for (const auto d : c.shape) elements *= static_cast<std::uint64_t>(d);
    EXPECT_EQ(t.elements(), elements);
    EXPECT_EQ(t.bytes, storage_bytes(c.dtype, elements));
    EXPECT_EQ(t.offset % 32, 0u);
    EXPECT_EQ(static_cast<std::uint64_t>(t.data - base), f.data_offset() + t.offset);
    std::vector<std::byte> want(t.bytes);
    pattern(want, ++seed);
    EXPECT_EQ(std::memcmp(t.data, want.data(), t.bytes), 0);
    EXPECT_EQ(f.tensor(c.name), &t);
  }
  EXPECT_EQ(f.tensor("missing"), nullptr);
}

// The writer's bytes are GGUF's, laid out field by field as the spec says (a check that does not
// go through the reader, which could share a misreading with the writer).
TEST_F(GgufTest, WriterProducesTheSpecifiedBytes) {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.add_tensor("w", {2, 32}, DType::f32, [](std::span<std::byte> s) { pattern(s, 9); });
  w.add_tensor("v", {3}, DType::f16, [](std::span<std::byte> s) { pattern(s, 10); });
  const auto p = path("spec.gguf");
  w.write(p);

  auto want = header(2, 2);
  want.key("general.architecture", ValueType::string).str("llama");
  want.key("general.alignment", ValueType::u32).u32(32);
  tensor_info(want, {"w", {32, 2}, 0, 0});     // ne reversed: ne[0] = 32 contiguous elements
  tensor_info(want, {"v", {3}, 1, 256});       // 2 * 32 * 4 bytes = 256, already aligned
  want.pad(32);
  std::string data(256, '\0');
  pattern(std::as_writable_bytes(std::span(data)), 9);
  want.raw(data);
  std::string v(6, '\0');
  pattern(std::as_writable_bytes(std::span(v)), 10);
  want.raw(v).pad(32);  // the last tensor is padded too
  EXPECT_EQ(read_bytes(p), want.bytes());
}

TEST_F(GgufTest, AlignmentFromTheFileIsHonoured) {
  Writer w;
  w.set_u32("general.alignment", 64);
  w.set_string("k", "abc");
  w.add_tensor("a", {3}, DType::f32, [](std::span<std::byte> s) { pattern(s, 1); });
  w.add_tensor("b", {5}, DType::f32, [](std::span<std::byte> s) { pattern(s, 2); });
  const auto p = path("a64.gguf");
  w.write(p);
  const auto f = File::open(p);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.metadata().front().first, "general.alignment");  // where the caller set it
  EXPECT_EQ(f.tensor("b")->offset, 64u);
}

TEST_F(GgufTest, LargeVocabularyParsesQuickly) {
  constexpr int kTokens = 128 * 1024;
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  for (int i = 0; i < kTokens; ++i) {
    tokens.push_back("tok_" + std::to_string(i));
    scores.push_back(static_cast<float>(-i));
    types.push_back(i % 6);
  }
  Writer w;
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_f32_array("tokenizer.ggml.scores", scores);
  w.set_i32_array("tokenizer.ggml.token_type", types);
  const auto p = path("vocab.gguf");
  w.write(p);

  const auto start = std::chrono::steady_clock::now();
  const auto f = File::open(p);
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  EXPECT_LT(took.count(), 1.0) << "parsing 3 x 128k array elements";
  const auto* v = f.find("tokenizer.ggml.tokens");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->elements.size(), static_cast<std::size_t>(kTokens));
  EXPECT_EQ(std::get<std::string>(v->elements[kTokens - 1].scalar), "tok_131071");
  EXPECT_EQ(std::get<double>(f.find("tokenizer.ggml.scores")->elements[5].scalar), -5.0);
}

// Kibibytes of the mapping that holds `p` that are resident in this process (/proc/self/smaps).
std::size_t resident_kib(const void* p) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  const auto at = reinterpret_cast<std::uintptr_t>(p);
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find('-')) inside = lo <= at && at < hi;
    std::size_t kib = 0;
    if (inside && std::sscanf(line.c_str(), "Rss: %zu kB", &kib) == 1) return kib;
  }
  ADD_FAILURE() << "no mapping holds " << p;
  return 0;
}

// A tensor a device has copied leaves the resident set, and its bytes are still there to read.
TEST_F(GgufTest, DroppedPagesLeaveTheResidentSetAndKeepTheirBytes) {
  Writer w;
  w.add_tensor("big", {8 << 20}, DType::f32, [](std::span<std::byte> s) { pattern(s, 9); });  // 32 MiB
  const auto p = path("big.gguf");
  w.write(p);
  const auto f = File::open(p);
  const TensorInfo& t = *f.tensor("big");
  std::vector<std::byte> want(t.bytes);
  pattern(want, 9);
  ASSERT_EQ(std::memcmp(t.data, want.data(), t.bytes), 0);  // every page touched
  const std::size_t before = resident_kib(t.data);
  EXPECT_GE(before, 32u << 10);
  f.drop_resident(t.span());
  const std::size_t after = resident_kib(t.data);
  EXPECT_LT(after, before - (31u << 10)) << "the tensor's pages should leave the resident set";
  EXPECT_EQ(std::memcmp(t.data, want.data(), t.bytes), 0) << "the bytes read again from the file";
  std::vector<std::byte> elsewhere(4096);
  f.drop_resident(elsewhere);  // outside the mapping: ignored
  EXPECT_EQ(std::memcmp(t.data, want.data(), t.bytes), 0);
}

TEST_F(GgufTest, MovedFileKeepsItsTensorData) {
  const auto p = path("m.gguf");
  sample_writer().write(p);
  auto f = File::open(p);
  const auto* data = f.tensor("output_norm.weight")->data;
  File g = std::move(f);
  EXPECT_EQ(g.tensor("output_norm.weight")->data, data);
  std::vector<std::byte> want(20);
  pattern(want, 3);
  EXPECT_EQ(std::memcmp(data, want.data(), want.size()), 0);
  f = std::move(g);  // and back, over an emptied File
  EXPECT_EQ(f.tensors().size(), 3u);
}

TEST_F(GgufTest, TypedGetters) {
  Writer w;
  w.set_u32("u32", 7);
  w.set("i16", Value::i16(-3));
  w.set_u64("u64.small", 1ull << 40);
  w.set_u64("u64.huge", kU64Max);
  w.set_f32("f32", 0.5f);
  w.set_f64("f64", -2.5);
  w.set_string("s", "text");
  w.set_bool("b", false);
  const auto p = path("get.gguf");
  w.write(p);
  const auto f = File::open(p);

  EXPECT_EQ(f.get_int("u32"), 7);
  EXPECT_EQ(f.get_int("i16"), -3);
  EXPECT_EQ(f.get_int("u64.small"), std::int64_t{1} << 40);
  EXPECT_EQ(f.get_int("general.alignment"), 32);
  EXPECT_EQ(f.get_int("absent"), std::nullopt);
  EXPECT_EQ(f.get_float("f32"), 0.5);
  EXPECT_EQ(f.get_float("f64"), -2.5);
  EXPECT_EQ(f.get_float("i16"), -3.0);
  EXPECT_EQ(f.get_string("s"), "text");
  EXPECT_EQ(f.get_bool("b"), false);
  EXPECT_EQ(f.get_string("absent"), std::nullopt);

  auto error = [&](auto get) -> std::string {
    try {
      get();
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error([&] { f.get_int("u64.huge"); }),
            p + ": key 'u64.huge' is 18446744073709551615, beyond the int64 range");
  EXPECT_EQ(error([&] { f.get_int("s"); }), p + ": key 's' is a string, expected an integer");
  EXPECT_EQ(error([&] { f.get_int("f32"); }), p + ": key 'f32' is a f32, expected an integer");
  EXPECT_EQ(error([&] { f.get_float("b"); }), p + ": key 'b' is a bool, expected a number");
  EXPECT_EQ(error([&] { f.get_string("u32"); }), p + ": key 'u32' is a u32, expected a string");
  EXPECT_EQ(error([&] { f.get_bool("s"); }), p + ": key 's' is a string, expected a bool");
}

// ---------------------------------------------------------------------------------------------
// Writer misuse and I/O

TEST_F(GgufTest, WriterRejectsMisuse) {
  Writer w;
  auto none = [](std::span<std::byte>) {};
  EXPECT_THROW(w.add_tensor("a", {}, DType::f32, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("a", {1, 1, 1, 1, 1}, DType::f32, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("a", {4, 0}, DType::f32, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("a", {-1, 4}, DType::f32, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("a", {1 << 30, 1 << 30}, DType::f32, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("a", {32, 33}, DType::q8_0, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("a", {4}, DType::u8, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("a", {4}, DType::f32, nullptr), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("", {4}, DType::f32, none), std::invalid_argument);
  EXPECT_THROW(w.add_tensor(std::string(65, 'n'), {4}, DType::f32, none), std::invalid_argument);
  w.add_tensor(std::string(64, 'n'), {4}, DType::f32, none);
  w.add_tensor("a", {4}, DType::f32, none);
  EXPECT_THROW(w.add_tensor("a", {4}, DType::f32, none), std::invalid_argument);

  EXPECT_THROW(w.set("", Value::u8(1)), std::invalid_argument);
  EXPECT_THROW(w.set(std::string(65536, 'k'), Value::u8(1)), std::invalid_argument);
  EXPECT_THROW(w.set("k", Value{ValueType::f32, 1e300, ValueType::u8, {}}), std::invalid_argument);
  w.set_f32("f32.inf", std::numeric_limits<float>::infinity());
  EXPECT_THROW(w.set("general.alignment", Value::u64(32)), std::invalid_argument);
  EXPECT_THROW(w.set_u32("general.alignment", 48), std::invalid_argument);
  EXPECT_THROW(w.set_u32("general.alignment", 0), std::invalid_argument);
  EXPECT_THROW(w.set("k", Value{ValueType::u8, std::uint64_t{300}, ValueType::u8, {}}), std::invalid_argument);
  EXPECT_THROW(w.set("k", Value{ValueType::i16, std::int64_t{-40000}, ValueType::u8, {}}), std::invalid_argument);
  EXPECT_THROW(w.set("k", Value{ValueType::u8, std::string("x"), ValueType::u8, {}}), std::invalid_argument);
  EXPECT_THROW(w.set("k", Value{static_cast<ValueType>(13), std::uint64_t{0}, ValueType::u8, {}}),
               std::invalid_argument);
  EXPECT_THROW(w.set("k", Value::array(ValueType::u8, {Value::u8(1), Value::u16(2)})), std::invalid_argument);
  auto deep = Value::array(ValueType::u8, {});
  for (int level = 1; level < kMaxArrayDepth; ++level) deep = Value::array(ValueType::array, {deep});
  w.set("deep.enough", deep);
  EXPECT_THROW(w.set("too.deep", Value::array(ValueType::array, {deep})), std::invalid_argument);
  EXPECT_EQ(w.alignment(), 32u);
}

TEST_F(GgufTest, WriterFailuresLeaveTheOldFileAndNoTemporary) {
  const auto p = path("model.gguf");
  sample_writer().write(p);
  const auto before = read_bytes(p);

  Writer w;
  w.add_tensor("x", {8}, DType::f32, [](std::span<std::byte>) { throw std::runtime_error("source gone"); });
  EXPECT_THROW(w.write(p), std::runtime_error);
  EXPECT_EQ(read_bytes(p), before);
  for (const auto& entry : fs::directory_iterator(dir_)) EXPECT_EQ(entry.path().filename(), "model.gguf");

  try {
    w.write(path("no/such/dir/x.gguf"));
    ADD_FAILURE() << "wrote into a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path("no/such/dir/x.gguf")), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile and damaged files

TEST_F(GgufTest, NotAFile) {
  const auto missing = path("missing.gguf");
  EXPECT_EQ(open_error(missing).rfind(missing + ": cannot open: ", 0), 0u);
  const auto d = path("dir.gguf");
  fs::create_directories(d);
  EXPECT_EQ(open_error(d), d + ": not a regular file, expected a GGUF file");
}

TEST_F(GgufTest, EmptyAndShortFiles) {
  expect_error("", {"empty file (0 bytes)"});
  expect_error("GG", {"file is 2 bytes, too short for a GGUF file"});
  expect_error("GGUF", {"header: the version (4 bytes at byte 4) runs past the end of the file (size 4)"});
  expect_error(Bytes().raw("GGUF").u32(3).u64(0).bytes(),
               {"the metadata key/value count (8 bytes at byte 16) runs past the end of the file (size 16)"});
}

TEST_F(GgufTest, WrongMagicAndVersion) {
  expect_error(Bytes().raw("GGML").u32(3).u64(0).u64(0).bytes(),
               {"not a GGUF file: it starts with 'GGML' (47 47 4d 4c), expected the magic 'GGUF' (47 47 55 46)"});
  expect_error(Bytes().raw("\x7f" "ELF").zeros(20).bytes(), {"'\\x7fELF'", "expected the magic 'GGUF'"});
  expect_error(header(0, 0, 2).bytes(), {"version 2 is not supported, only 3"});
  expect_error(header(0, 0, 1).bytes(), {"version 1 is not supported, only 3"});
  expect_error(header(0, 0, 0x03000000).bytes(), {"version 50331648 is not supported", "big-endian"});
}

TEST_F(GgufTest, AbsurdCountsFailFast) {
  expect_error(header(1ull << 63, 0).bytes(), {"tensor count 9223372036854775808 cannot fit in the 0 bytes"});
  expect_error(header(0, kU64Max).zeros(100).bytes(), {"metadata key/value count 18446744073709551615 cannot fit"});
  expect_error(header(0, 8).zeros(100).bytes(), {"metadata key/value count 8 cannot fit in the 100 bytes"});
  expect_error(header(2, 6).zeros(100).bytes(), {"count 6 and tensor count 2 cannot fit together"});
  // Counts the header's remainder could hold but the file cannot once the metadata is read.
  auto b = header(2, 1);
  b.key("k", ValueType::string).str(std::string(50, 'x')).zeros(30);
  expect_error(b.bytes(), {"tensor count 2 cannot fit in the 30 bytes after the metadata"});
}

TEST_F(GgufTest, CountsBeyondTheReadersLimits) {
  // Sparse files: big enough that only the reader's own limits stop these counts.
  {
    const auto p = write_bytes(header(kMaxTensors + 1, 0).bytes(), "tensors.gguf");
    fs::resize_file(p, (kMaxTensors + 2) * 32 + 24);
    const auto msg = open_error(p);
    const auto want = "tensor count " + std::to_string(kMaxTensors + 1) + " is beyond the reader's limit of " +
                      std::to_string(kMaxTensors);
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
  }
  {
    const auto p = write_bytes(header(0, kMaxMetadataKeys + 1).bytes(), "keys.gguf");
    fs::resize_file(p, (kMaxMetadataKeys + 2) * 13 + 24);
    const auto msg = open_error(p);
    const auto want = "metadata key/value count " + std::to_string(kMaxMetadataKeys + 1) +
                      " is beyond the reader's limit of " + std::to_string(kMaxMetadataKeys);
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
  }
  {
    auto b = header(0, 1);
    b.key("tokens", ValueType::array).u32(static_cast<std::uint32_t>(ValueType::u8)).u64(kMaxMetadataValues);
    const auto p = write_bytes(b.bytes(), "values.gguf");
    fs::resize_file(p, b.size() + kMaxMetadataValues);
    const auto msg = open_error(p);
    EXPECT_NE(msg.find("key 'tokens': the metadata holds more than 4194304 values"), std::string::npos) << msg;
  }
}

TEST_F(GgufTest, LengthsPastTheEnd) {
  expect_error(header(0, 1).u64(kU64Max).zeros(20).bytes(),
               {"metadata pair 0 of 1: the key length 18446744073709551615 (at byte 24) runs past the end"});
  // A length that would wrap the position back into the file if it were added to it.
  auto s = header(0, 1);
  s.key("name", ValueType::string).u64(kU64Max - 40).zeros(20);
  expect_error(s.bytes(), {"key 'name': the string length 18446744073709551575",
                           "runs past the end of the file (20 bytes left"});
  auto a = header(0, 1);
  a.key("tokens", ValueType::array).u32(static_cast<std::uint32_t>(ValueType::u32)).u64(1ull << 62).zeros(16);
  expect_error(a.bytes(),
               {"key 'tokens': array count 4611686018427387904 of u32 (at least 4 bytes each) runs past the end"});
  auto strings = header(0, 1);
  strings.key("tokens", ValueType::array).u32(static_cast<std::uint32_t>(ValueType::string)).u64(3).str("a").str("b");
  strings.u64(2).raw("c");
  expect_error(strings.bytes(), {"key 'tokens' element 2: the string length 2 (at byte", "runs past the end"});
  auto name = header(1, 0);
  name.u64(1000).zeros(40);
  expect_error(name.bytes(), {"tensor info 0 of 1: the tensor name length 1000", "runs past the end"});
}

TEST_F(GgufTest, ArraysNestedTooDeep) {
  const auto array_type = static_cast<std::uint32_t>(ValueType::array);
  auto nested = [&](int levels) {
    auto b = header(0, 1);
    b.key("deep", ValueType::array);
    for (int i = 1; i < levels; ++i) b.u32(array_type).u64(1);
    b.u32(static_cast<std::uint32_t>(ValueType::u8)).u64(1).u8(42);
    return b.bytes();
  };
  const auto ok = File::open(write_bytes(nested(kMaxArrayDepth), "ok.gguf"));
  const Value* v = ok.find("deep");
  for (int i = 1; i < kMaxArrayDepth; ++i) v = &v->elements.at(0);
  EXPECT_EQ(v->elements.at(0), Value::u8(42));
  expect_error(nested(kMaxArrayDepth + 1),
               {"key 'deep' element 0 element 0 element 0: arrays nested more than 4 deep"});
  expect_error(nested(1000), {"arrays nested more than 4 deep"});
}

TEST_F(GgufTest, UnknownAndInvalidValues) {
  auto b = header(0, 1);
  b.str("k").u32(13).zeros(8);
  expect_error(b.bytes(), {"key 'k': the value type 13 is unknown (known: 0 to 12)"});
  auto a = header(0, 1);
  a.key("k", ValueType::array).u32(99).u64(0);
  expect_error(a.bytes(), {"key 'k': the array element type 99 is unknown"});
  auto flag = header(0, 1);
  flag.key("flag", ValueType::boolean).u8(2);
  expect_error(flag.bytes(), {"key 'flag': bool value is 2, expected 0 or 1"});
  auto dup = header(0, 2);
  dup.key("k", ValueType::u8).u8(1).key("k", ValueType::u8).u8(2);
  expect_error(dup.bytes(), {"key 'k': duplicate key (pair 0 has it too)"});
  auto odd = header(0, 1);
  odd.key(std::string("a\nb\0", 4), ValueType::u8);
  expect_error(odd.bytes(), {"key 'a\\x0ab\\x00'"});  // names from the file are shown escaped
}

TEST_F(GgufTest, BadAlignment) {
  auto with = [](ValueType t, std::uint64_t v, int bytes) {
    auto b = header(0, 1);
    b.key("general.alignment", t).uint(v, bytes);
    return b.bytes();
  };
  expect_error(with(ValueType::u64, 32, 8), {"key 'general.alignment': is a u64, expected u32"});
  expect_error(with(ValueType::u32, 0, 4), {"is 0, expected a power of two"});
  expect_error(with(ValueType::u32, 48, 4), {"is 48, expected a power of two"});
  // A valid but huge alignment puts the data section past the end of a file with tensors.
  auto b = header(1, 1);
  b.key("general.alignment", ValueType::u32).u32(1u << 31);
  tensor_info(b, {"w", {4}, 0, 0});
  b.zeros(64);
  expect_error(b.bytes(), {"the data section would start at byte 2147483648", "past the end of the file"});
  // Without tensors there is no data section to find.
  EXPECT_NO_THROW(File::open(write_bytes(with(ValueType::u32, 1u << 31, 4), "empty.gguf")));
}

TEST_F(GgufTest, BadTensorShapes) {
  expect_error(tensors_file({{"w", {}, 0, 0}}, 64), {"tensor 'w': has 0 dimensions, expected 1 to 4"});
  expect_error(tensors_file({{"w", {1, 1, 1, 1, 1}, 0, 0}}, 64), {"tensor 'w': has 5 dimensions, expected 1 to 4"});
  expect_error(tensors_file({{"w", {4, 0}, 0, 0}}, 64), {"tensor 'w': ne[1] is 0"});
  expect_error(tensors_file({{"w", {1ull << 63}, 0, 0}}, 64),
               {"ne[0] is 9223372036854775808, beyond the int64 range"});
  expect_error(tensors_file({{"w", {1ull << 24, 1ull << 24, 2}, 0, 0}}, 64),
               {"tensor 'w': has more than 281474976710656 elements", "ne[2] = 2"});
  // A product that wraps to 0 in 64 bits if unchecked.
  expect_error(tensors_file({{"w", {1ull << 32, 1ull << 32}, 0, 0}}, 64), {"has more than 281474976710656 elements"});
  expect_error(tensors_file({{"w", {33, 2}, 8, 0}}, 256),
               {"tensor 'w': ne[0] (the contiguous dimension) is 33, not a multiple of the Q8_0 block of 32"});
  expect_error(tensors_file({{"w", {16}, 2, 0}}, 64), {"is 16, not a multiple of the Q4_0 block of 32"});
}

TEST_F(GgufTest, UnsupportedTensorTypes) {
  expect_error(tensors_file({{"blk.0.ffn_up.weight", {256}, 16, 0}}, 256),
               {"tensor 'blk.0.ffn_up.weight': type 16 (IQ2_XXS) is not supported; "
                "supported: F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, I8, "
                "I32, F64, BF16"});
  expect_error(tensors_file({{"w", {4}, 1000, 0}}, 64), {"type 1000 (unknown to ggml) is not supported"});
  expect_error(tensors_file({{"w", {4}, 4, 0}}, 64), {"type 4 (unknown to ggml)"});  // retired by ggml
}

TEST_F(GgufTest, TensorDataPlacement) {
  expect_error(tensors_file({{"w", {4}, 0, 8}}, 64),
               {"tensor 'w': data offset 8 is not a multiple of the alignment 32"});
  const auto short_data = tensors_file({{"blk.0.attn_q.weight", {1024}, 0, 0}}, 100);
  expect_error(short_data,
               {"tensor 'blk.0.attn_q.weight': data [offset 0, 4096 bytes] runs past the end of the file (size " +
                std::to_string(short_data.size()) + "; the data section starts at byte 96)"});
  // Offsets near 2^64: offset + bytes wraps if computed naively.
  expect_error(tensors_file({{"w", {4}, 0, kU64Max - 31}}, 64),
               {"data [offset 18446744073709551584, 16 bytes] runs past"});
  expect_error(tensors_file({{"w", {4}, 0, 64}}, 64), {"data [offset 64, 16 bytes] runs past the end"});
  expect_error(tensors_file({{"w", {4}, 0, 0}, {"w", {4}, 0, 32}}, 64),
               {"tensor 'w': duplicate tensor name (tensor info 0 has it too)"});
  // Tensors may come in any order, but no two may share a byte: overlapping tensors would be
  // weights that are not what their names say.
  expect_error(tensors_file({{"b", {8}, 0, 32}, {"a", {16}, 0, 0}}, 64),
               {"the data of tensor 'a' [offset 0, 64 bytes] overlaps tensor 'b' at offset 32"});
  const auto f = File::open(write_bytes(tensors_file({{"b", {8}, 0, 64}, {"a", {16}, 0, 0}}, 96), "ok.gguf"));
  EXPECT_EQ(f.tensor("a")->data + 64, f.tensor("b")->data);
  EXPECT_EQ(f.tensors()[0].name, "b");
  // The data section ends exactly at the end of the file: the last tensor need not be padded.
  EXPECT_NO_THROW(File::open(write_bytes(tensors_file({{"w", {3}, 0, 0}}, 12), "exact.gguf")));
}

// Every prefix of a valid file up to the start of its data, and every prefix that cuts into a
// tensor, is refused.
TEST_F(GgufTest, TruncatedAnywhereIsRefused) {
  const auto full_path = path("full.gguf");
  sample_writer().write(full_path);
  const auto full = read_bytes(full_path);
  std::uint64_t data_end = 0;
  std::uint64_t data_offset = 0;
  {
    const auto f = File::open(full_path);
    data_offset = f.data_offset();
    for (const auto& t : f.tensors()) data_end = std::max(data_end, data_offset + t.offset + t.bytes);
  }
  ASSERT_GT(data_offset, 300u);
  std::size_t refused = 0;
  auto check = [&](std::size_t n) {
    const auto p = write_bytes(full.substr(0, n), "cut.gguf");
    try {
      File::open(p);
      ADD_FAILURE() << "a file cut to " << n << " of " << full.size() << " bytes opened";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()).rfind(p + ": ", 0), 0u) << e.what();
      ++refused;
    }
  };
  for (std::size_t n = 0; n < data_offset; ++n) check(n);
  for (std::size_t n = data_offset; n < data_end; n += 5) check(n);
  check(static_cast<std::size_t>(data_end - 1));
  EXPECT_GE(refused, data_offset);
  EXPECT_NO_THROW(File::open(write_bytes(full.substr(0, data_end), "cut.gguf")));
}

// Random damage: opening either succeeds, with every tensor inside the file, or throws
// InputError. Anything else (a crash, another exception) fails the test.
TEST_F(GgufTest, RandomDamageNeverCrashes) {
  const auto full_path = path("full.gguf");
  sample_writer().write(full_path);
  const auto full = read_bytes(full_path);
  const auto data_offset = File::open(full_path).data_offset();

  std::mt19937_64 rng(20250101);
  int opened = 0, refused = 0;
  const auto p = path("damaged.gguf");
  for (int iteration = 0; iteration < 2000; ++iteration) {
    auto bytes = full;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      // Mostly the header, where damage matters; now and then anywhere.
      const auto limit = rng() % 8 == 0 ? bytes.size() : static_cast<std::size_t>(data_offset);
      const auto at = static_cast<std::size_t>(rng() % limit);
      switch (rng() % 4) {
        case 0: bytes[at] = static_cast<char>(rng()); break;                       // any byte
        case 1: bytes[at] = static_cast<char>(bytes[at] ^ (1 << (rng() % 8))); break;  // one bit
        case 2: bytes[at] = static_cast<char>(0xff); break;                          // huge counts
        default: bytes.resize(at); break;                                            // truncation
      }
      if (bytes.empty()) break;
    }
    write_bytes(bytes, "damaged.gguf");
    try {
      const auto f = File::open(p);
      ++opened;
      for (const auto& t : f.tensors()) {
        ASSERT_LE(f.data_offset() + t.offset + t.bytes, f.file_bytes());
        unsigned sum = 0;
        for (const auto b : t.span()) sum += std::to_integer<unsigned>(b);  // touches every byte
        (void)sum;
      }
    } catch (const InputError& e) {
      ++refused;
      ASSERT_EQ(std::string(e.what()).rfind(p + ": ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(refused, 500);
  EXPECT_GT(opened, 10);
}

}  // namespace
}  // namespace xpb::gguf
