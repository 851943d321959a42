// Move-only owners of a file descriptor and a memory mapping, for the memory
// the tests register. A failed open or mmap shows as valid() == false with
// errno as the call left it, for the test to print.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <utility>

namespace pinfs::rdma::test {

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

class Mapping {
 public:
  // mmap(NULL, length, PROT_READ|PROT_WRITE, flags, fd, 0); check valid().
  Mapping(size_t length_bytes, int flags, int fd)
      : length_(length_bytes),
        addr_(::mmap(nullptr, length_bytes, PROT_READ | PROT_WRITE, flags, fd, 0)) {}
  static Mapping anonymous(size_t length_bytes) {
    return Mapping(length_bytes, MAP_PRIVATE | MAP_ANONYMOUS, -1);
  }
  Mapping(Mapping&& other) noexcept
      : length_(other.length_), addr_(std::exchange(other.addr_, MAP_FAILED)) {}
  Mapping& operator=(Mapping&&) = delete;
  // Unmapping memory that is still registered leaves it pinned: tests
  // deregister (or destroy the MemoryRegion, declared after the Mapping)
  // first.
  ~Mapping() {
    if (addr_ != MAP_FAILED) ::munmap(addr_, length_);
  }

  bool valid() const { return addr_ != MAP_FAILED; }
  void* addr() const { return addr_; }
  size_t length_bytes() const { return length_; }

 private:
  size_t length_;
  void* addr_;
};

}  // namespace pinfs::rdma::test
