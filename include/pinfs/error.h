// pinfs::Error and pinfs::Result: the one error type of the project.
//
// An Error carries the operation, the object it was applied to (a path, an
// inode, a device, a range), the errno that describes the cause and a free
// detail, and prints as
//   punch '/mnt/data/f1' [0, 2 MiB): Text file busy (pinned by pid 4242)
// Results are [[nodiscard]]: an ignored error is a compile error under
// -Werror. Exceptions never cross a C boundary (libfuse callbacks, the control
// socket); errors become errno at exactly one place each.
#pragma once

#include <cassert>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace pinfs {

class Error {
 public:
  // errnum is a positive errno value. object is printed quoted unless it
  // already starts with a quote or bracket, so callers pass the bare path.
  Error(int errnum, std::string op, std::string object, std::string detail = {})
      : errnum_(errnum),
        op_(std::move(op)),
        object_(std::move(object)),
        detail_(std::move(detail)) {}

  // Adapters, one per C convention. Each reads the cause the convention's
  // way; nothing else turns a C failure into an Error.
  // from_errno: the call returned -1 (or NULL) and set errno.
  static Error from_errno(std::string op, std::string object, std::string detail = {}) {
    int e = errno;
    return Error(e != 0 ? e : EIO, std::move(op), std::move(object), std::move(detail));
  }
  // from_negative: the call returned -errno (liburing, libfuse, libdaxctl).
  static Error from_negative(int rc, std::string op, std::string object,
                             std::string detail = {}) {
    return Error(rc < 0 ? -rc : EIO, std::move(op), std::move(object), std::move(detail));
  }

  int errnum() const { return errnum_; }
  const std::string& op() const { return op_; }
  const std::string& object() const { return object_; }
  const std::string& detail() const { return detail_; }

  // Adds context while an error travels up ("mount: " + inner message).
  Error& with_detail(std::string more) {
    detail_ = detail_.empty() ? std::move(more) : detail_ + "; " + more;
    return *this;
  }

  std::string message() const {
    std::string out = op_;
    if (!object_.empty()) {
      char first = object_.front();
      bool bare = first != '\'' && first != '[' && first != '(' && first != '<';
      out += bare ? " '" + object_ + "'" : " " + object_;
    }
    out += ": ";
    out += strerror_name(errnum_);
    if (!detail_.empty()) out += " (" + detail_ + ")";
    return out;
  }

  static std::string strerror_name(int errnum) {
    char buf[128];
    // GNU strerror_r returns the message, which may not live in buf.
    return std::string(::strerror_r(errnum, buf, sizeof buf));
  }

 private:
  int errnum_;
  std::string op_;
  std::string object_;
  std::string detail_;
};

// Result<T>: a value or an Error. Result<void> is spelled Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { assert(!ok()); return std::get<1>(v_); }
  Error&& error() && { assert(!ok()); return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { assert(!ok()); return *e_; }
  Error&& error() && { assert(!ok()); return std::move(*e_); }

 private:
  std::optional<Error> e_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

}  // namespace pinfs

// Propagate an error from an expression returning Status or Result<T>.
#define PINFS_TRY(expr)                                    \
  do {                                                     \
    auto pinfs_try_result_ = (expr);                       \
    if (!pinfs_try_result_.ok())                           \
      return std::move(pinfs_try_result_).error();         \
  } while (0)

#define PINFS_CONCAT_INNER_(a, b) a##b
#define PINFS_CONCAT_(a, b) PINFS_CONCAT_INNER_(a, b)
// Declare lhs from a Result<T>, returning its error on failure.
#define PINFS_ASSIGN_OR_RETURN(lhs, expr) \
  PINFS_ASSIGN_OR_RETURN_IMPL_(PINFS_CONCAT_(pinfs_result_, __LINE__), lhs, expr)
#define PINFS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).error();      \
  lhs = std::move(tmp).value()
