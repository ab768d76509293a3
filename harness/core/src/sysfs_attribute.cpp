#include "sysfs_attribute.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <utility>

namespace xpb {

namespace {
constexpr std::size_t kMaxAttribute = 4096;  // a sysfs attribute is at most one page
}

SysfsAttribute::SysfsAttribute(std::filesystem::path path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  open_errno_ = fd_ < 0 ? errno : 0;
}

SysfsAttribute::~SysfsAttribute() {
  if (fd_ >= 0) ::close(fd_);
}

SysfsAttribute::SysfsAttribute(SysfsAttribute&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), open_errno_(other.open_errno_) {}

SysfsAttribute& SysfsAttribute::operator=(SysfsAttribute&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    open_errno_ = other.open_errno_;
  }
  return *this;
}

int SysfsAttribute::read(std::string& text) const {
  if (fd_ < 0) return open_errno_ != 0 ? open_errno_ : EBADF;
  char buf[kMaxAttribute];
  ssize_t n;
  do n = ::pread(fd_, buf, sizeof buf, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  text.assign(buf, static_cast<std::size_t>(n));
  return 0;
}

int SysfsAttribute::read_unsigned(std::uint64_t& value, std::string& text) const {
  if (const int err = read(text); err != 0) return err;
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; };
  std::size_t b = 0, e = text.size();
  while (b < e && space(text[b])) ++b;
  while (e > b && space(text[e - 1])) --e;
  text = text.substr(b, e - b);
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return EINVAL;
  return 0;
}

}  // namespace xpb
