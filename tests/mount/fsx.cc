// fsx: a seeded random exerciser of one file, in the manner of the classic
// fsx (NeXT, later xfstests' ltp/fsx.c), written for the pinfs mount tests.
//
//   fsx [--ops N] [--seed S] [--max-size BYTES] [--max-op BYTES]
//       [--log-tail N] [--verify-every N] FILE
//
// It mixes write, read, truncate, punch hole, zero range, preallocation,
// mapped reads and mapped writes (mmap MAP_SHARED + msync), fsync and
// close/reopen on FILE, and keeps an in-memory model of what the file must
// hold. Every read (plain or mapped) and the file size after every operation
// are checked against the model, and the whole file is verified every
// --verify-every operations and at the end.
//
// On a mismatch it prints the seed, the operation, the first differing
// offset with both sides' bytes, and the last --log-tail operations, writes
// the model to FILE.fsxgood for comparison, and exits 1. Exit 0: all
// operations matched. Exit 2: bad usage or the file could not be opened.
//
// The data written by operation k at file offset o is a function of both
// (never zero), so a wrong byte usually tells which operation left it.
#include <fcntl.h>
#include <linux/falloc.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

enum class Op {
  write,
  read,
  map_read,
  map_write,
  truncate,
  punch_hole,
  zero_range,
  allocate,
  fsync,
  reopen,
  count_,
};
constexpr std::size_t kOpKinds = static_cast<std::size_t>(Op::count_);

const char* op_name(Op op) {
  switch (op) {
    case Op::write: return "write";
    case Op::read: return "read";
    case Op::map_read: return "mapread";
    case Op::map_write: return "mapwrite";
    case Op::truncate: return "truncate";
    case Op::punch_hole: return "punch_hole";
    case Op::zero_range: return "zero_range";
    case Op::allocate: return "fallocate";
    case Op::fsync: return "fsync";
    case Op::reopen: return "reopen";
    case Op::count_: break;
  }
  return "?";
}

// Relative frequencies, in the order of Op.
constexpr std::array<unsigned, kOpKinds> kWeights = {20, 20, 10, 10, 7, 8, 8, 5, 2, 2};

struct Options {
  std::uint64_t ops = 100000;
  std::uint64_t seed = 1;
  std::uint64_t max_size = 3u << 20;  // crosses the 2 MiB aligned unit
  std::uint64_t max_op = 256u << 10;
  std::size_t log_tail = 60;
  std::uint64_t verify_every = 2000;
  std::string path;
};

struct LogEntry {
  std::uint64_t number = 0;
  Op op = Op::write;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::uint64_t size_before = 0;
  std::uint64_t size_after = 0;
  const char* detail = "";
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "fsx: %s\nusage: fsx [--ops N] [--seed S] [--max-size BYTES] [--max-op BYTES] "
               "[--log-tail N] [--verify-every N] FILE\n",
               why);
  std::exit(2);
}

std::uint64_t parse_number(const char* flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0') {
    std::string why = std::string("bad number for ") + flag + ": " + text;
    usage(why.c_str());
  }
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(("missing value for " + std::string(a)).c_str());
      return argv[++i];
    };
    if (a == "--ops") o.ops = parse_number("--ops", value());
    else if (a == "--seed") o.seed = parse_number("--seed", value());
    else if (a == "--max-size") o.max_size = parse_number("--max-size", value());
    else if (a == "--max-op") o.max_op = parse_number("--max-op", value());
    else if (a == "--log-tail") o.log_tail = parse_number("--log-tail", value());
    else if (a == "--verify-every") o.verify_every = parse_number("--verify-every", value());
    else if (!a.empty() && a[0] == '-') usage(("unknown option " + std::string(a)).c_str());
    else if (o.path.empty()) o.path = std::string(a);
    else usage("more than one FILE");
  }
  if (o.path.empty()) usage("missing FILE");
  if (o.max_size < 4096 || o.max_op == 0) usage("--max-size must be >= 4096 and --max-op > 0");
  return o;
}

// A SIGBUS in a mapped access jumps back here and is reported as a failure
// of that operation.
sigjmp_buf g_sigbus_jump;
volatile sig_atomic_t g_in_mapping = 0;

void on_sigbus(int) {
  if (g_in_mapping) siglongjmp(g_sigbus_jump, 1);
  signal(SIGBUS, SIG_DFL);
  raise(SIGBUS);
}

// memcpy to or from a mapping; false if it raised SIGBUS. Its own frame,
// without objects to destroy, so nothing live across sigsetjmp can be
// clobbered by the jump back.
[[gnu::noinline]] bool copy_catching_sigbus(void* dst, const void* src, std::size_t len) {
  if (sigsetjmp(g_sigbus_jump, 1) != 0) {
    g_in_mapping = 0;
    return false;
  }
  g_in_mapping = 1;
  std::memcpy(dst, src, len);
  g_in_mapping = 0;
  return true;
}

class Exerciser {
 public:
  explicit Exerciser(Options o) : o_(std::move(o)), rng_(o_.seed) {}

  int run() {
    fd_ = open(o_.path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      std::fprintf(stderr, "fsx: open %s: %s\n", o_.path.c_str(), std::strerror(errno));
      return 2;
    }
    page_ = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    std::printf("fsx: seed %" PRIu64 ", %" PRIu64 " ops, max size %" PRIu64 ", max op %" PRIu64
                ", file %s\n",
                o_.seed, o_.ops, o_.max_size, o_.max_op, o_.path.c_str());
    std::fflush(stdout);
    const auto start = std::chrono::steady_clock::now();
    std::discrete_distribution<unsigned> pick(kWeights.begin(), kWeights.end());
    for (number_ = 1; number_ <= o_.ops; ++number_) {
      const Op op = static_cast<Op>(pick(rng_));
      if (!step(op)) return fail_exit();
      ++counts_[static_cast<std::size_t>(op)];
      if (!check_size()) return fail_exit();
      if (o_.verify_every != 0 && number_ % o_.verify_every == 0 && !verify_all()) {
        return fail_exit();
      }
    }
    --number_;
    if (!verify_all()) return fail_exit();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("fsx: %" PRIu64 " ops passed in %.1f s (%.0f ops/s), seed %" PRIu64
                ", final size %zu\n",
                o_.ops, seconds, seconds > 0 ? static_cast<double>(o_.ops) / seconds : 0.0,
                o_.seed, model_.size());
    std::printf("fsx: ops by kind:");
    for (std::size_t k = 0; k < kOpKinds; ++k) {
      std::printf(" %s=%" PRIu64, op_name(static_cast<Op>(k)), counts_[k]);
    }
    std::printf("\n");
    close(fd_);
    return 0;
  }

 private:
  std::uint64_t random_below(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  // Lengths: a third small, a third up to 16 KiB, a third up to max_op.
  std::uint64_t random_length() {
    std::uint64_t cap;
    switch (random_below(3)) {
      case 0: cap = 512; break;
      case 1: cap = 16384; break;
      default: cap = o_.max_op; break;
    }
    return 1 + random_below(std::min(cap, o_.max_op));
  }

  // An offset, sometimes page-aligned, so that whole-page and whole-block
  // paths are taken as well as the partial ones.
  std::uint64_t random_offset(std::uint64_t limit) {
    std::uint64_t off = random_below(limit);
    if (random_below(4) == 0) off &= ~(page_ - 1);
    return off;
  }

  unsigned char data_byte(std::uint64_t offset) const {
    return static_cast<unsigned char>((offset * 7 + number_ * 13) % 255 + 1);
  }

  void fill(std::vector<unsigned char>& buf, std::uint64_t offset) const {
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = data_byte(offset + i);
  }

  void record(Op op, std::uint64_t offset, std::uint64_t length, std::uint64_t size_before,
              const char* detail = "") {
    log_.push_back(LogEntry{number_, op, offset, length, size_before, model_.size(), detail});
    while (log_.size() > o_.log_tail) log_.pop_front();
  }

  bool syscall_failed(const char* call, std::uint64_t offset, std::uint64_t length) {
    std::fprintf(stderr, "fsx: op %" PRIu64 ": %s at 0x%" PRIx64 " length 0x%" PRIx64
                 " failed: %s (errno %d)\n",
                 number_, call, offset, length, std::strerror(errno), errno);
    return false;
  }

  bool step(Op op) {
    const std::uint64_t size = model_.size();
    switch (op) {
      case Op::write: {
        std::uint64_t off = random_offset(o_.max_size);
        std::uint64_t len = std::min(random_length(), o_.max_size - off);
        std::vector<unsigned char> buf(len);
        fill(buf, off);
        for (std::uint64_t done = 0; done < len;) {
          ssize_t n = pwrite(fd_, buf.data() + done, len - done, static_cast<off_t>(off + done));
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) return syscall_failed("pwrite", off + done, len - done);
          done += static_cast<std::uint64_t>(n);
        }
        if (off + len > model_.size()) model_.resize(off + len, 0);
        std::copy(buf.begin(), buf.end(), model_.begin() + static_cast<std::ptrdiff_t>(off));
        record(op, off, len, size);
        return true;
      }
      case Op::read: {
        // Sometimes past the end, which must come back short.
        std::uint64_t off = random_offset(size + page_);
        std::uint64_t len = random_length();
        record(op, off, len, size);
        return read_and_compare(off, len);
      }
      case Op::map_read: {
        if (size == 0) return step(Op::read);
        std::uint64_t off = random_offset(size);
        std::uint64_t len = std::min(random_length(), size - off);
        record(op, off, len, size);
        return map_read(off, len);
      }
      case Op::map_write: {
        std::uint64_t off = random_offset(o_.max_size);
        std::uint64_t len = std::min(random_length(), o_.max_size - off);
        const char* detail = "";
        // A mapping cannot extend a file: grow it first, as fsx does.
        if (off + len > size) {
          if (ftruncate(fd_, static_cast<off_t>(off + len)) != 0) {
            return syscall_failed("ftruncate (before mapwrite)", off + len, 0);
          }
          model_.resize(off + len, 0);
          detail = " (extended by ftruncate)";
        }
        record(op, off, len, size, detail);
        return map_write(off, len);
      }
      case Op::truncate: {
        std::uint64_t new_size = random_below(5) == 0 ? random_below(page_ * 2)
                                                      : random_below(o_.max_size + 1);
        if (ftruncate(fd_, static_cast<off_t>(new_size)) != 0) {
          return syscall_failed("ftruncate", new_size, 0);
        }
        model_.resize(new_size, 0);
        record(op, new_size, 0, size);
        return true;
      }
      case Op::punch_hole: {
        std::uint64_t off = random_offset(std::max<std::uint64_t>(size, 1));
        std::uint64_t len = random_length();
        if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(off),
                      static_cast<off_t>(len)) != 0) {
          return syscall_failed("fallocate(PUNCH_HOLE|KEEP_SIZE)", off, len);
        }
        zero_model(off, len);
        record(op, off, len, size);
        return true;
      }
      case Op::zero_range: {
        std::uint64_t off = random_offset(o_.max_size);
        std::uint64_t len = std::min(random_length(), o_.max_size - off);
        const bool keep = random_below(2) == 0;
        int mode = FALLOC_FL_ZERO_RANGE | (keep ? FALLOC_FL_KEEP_SIZE : 0);
        if (fallocate(fd_, mode, static_cast<off_t>(off), static_cast<off_t>(len)) != 0) {
          return syscall_failed(keep ? "fallocate(ZERO_RANGE|KEEP_SIZE)" : "fallocate(ZERO_RANGE)",
                                off, len);
        }
        if (!keep && off + len > model_.size()) model_.resize(off + len, 0);
        zero_model(off, len);
        record(op, off, len, size, keep ? " keep_size" : "");
        return true;
      }
      case Op::allocate: {
        std::uint64_t off = random_offset(o_.max_size);
        std::uint64_t len = std::min(random_length(), o_.max_size - off);
        const bool keep = random_below(2) == 0;
        if (fallocate(fd_, keep ? FALLOC_FL_KEEP_SIZE : 0, static_cast<off_t>(off),
                      static_cast<off_t>(len)) != 0) {
          return syscall_failed(keep ? "fallocate(KEEP_SIZE)" : "fallocate(0)", off, len);
        }
        if (!keep && off + len > model_.size()) model_.resize(off + len, 0);
        record(op, off, len, size, keep ? " keep_size" : "");
        return true;
      }
      case Op::fsync:
        if (fsync(fd_) != 0) return syscall_failed("fsync", 0, 0);
        record(op, 0, 0, size);
        return true;
      case Op::reopen:
        // Close-to-open: pinfs drops the kernel's cached pages at open.
        close(fd_);
        fd_ = open(o_.path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd_ < 0) return syscall_failed("open (reopen)", 0, 0);
        record(op, 0, 0, size);
        return true;
      case Op::count_: break;
    }
    return false;
  }

  void zero_model(std::uint64_t off, std::uint64_t len) {
    if (off >= model_.size()) return;
    std::uint64_t end = std::min<std::uint64_t>(off + len, model_.size());
    std::fill(model_.begin() + static_cast<std::ptrdiff_t>(off),
              model_.begin() + static_cast<std::ptrdiff_t>(end), 0);
  }

  // Compares what was read at `off` with the model; `got` may be short only
  // where the model ends.
  bool compare(const char* how, std::uint64_t off, const unsigned char* got, std::uint64_t got_len,
               std::uint64_t asked_len) {
    const std::uint64_t size = model_.size();
    const std::uint64_t want_len = off >= size ? 0 : std::min(asked_len, size - off);
    if (got_len != want_len) {
      std::fprintf(stderr, "fsx: op %" PRIu64 ": %s at 0x%" PRIx64 " asked 0x%" PRIx64
                   " bytes, got 0x%" PRIx64 ", expected 0x%" PRIx64 " (model size 0x%" PRIx64 ")\n",
                   number_, how, off, asked_len, got_len, want_len, size);
      return false;
    }
    const unsigned char* want = model_.data() + off;
    if (want_len == 0 || std::memcmp(got, want, want_len) == 0) return true;
    std::uint64_t first = 0;
    while (got[first] == want[first]) ++first;
    std::uint64_t last = want_len - 1;
    while (got[last] == want[last]) --last;
    std::uint64_t bad = 0;
    for (std::uint64_t i = first; i <= last; ++i) bad += got[i] != want[i];
    std::fprintf(stderr, "fsx: op %" PRIu64 ": %s MISMATCH at file offset 0x%" PRIx64
                 ": %" PRIu64 " bad bytes in [0x%" PRIx64 ", 0x%" PRIx64 "]\n",
                 number_, how, off + first, bad, off + first, off + last);
    const std::uint64_t from = first & ~15ull;
    const std::uint64_t to = std::min(want_len, from + 48);
    for (std::uint64_t row = from; row < to; row += 16) {
      std::fprintf(stderr, "  0x%08" PRIx64 " expected", off + row);
      for (std::uint64_t i = row; i < std::min(to, row + 16); ++i) std::fprintf(stderr, " %02x", want[i]);
      std::fprintf(stderr, "\n  0x%08" PRIx64 " got     ", off + row);
      for (std::uint64_t i = row; i < std::min(to, row + 16); ++i) std::fprintf(stderr, " %02x", got[i]);
      std::fprintf(stderr, "\n");
    }
    if (got[first] != 0) {
      // Which recent operation could have written the byte that was found?
      for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
        std::uint64_t o = off + first;
        unsigned char would =
            static_cast<unsigned char>((o * 7 + it->number * 13) % 255 + 1);
        if ((it->op == Op::write || it->op == Op::map_write) && would == got[first] &&
            o >= it->offset && o < it->offset + it->length) {
          std::fprintf(stderr, "  the byte found matches the data of op %" PRIu64 " (%s)\n",
                       it->number, op_name(it->op));
          break;
        }
      }
    } else {
      std::fprintf(stderr, "  the bytes found are zeros: a hole or a lost write\n");
    }
    return false;
  }

  bool read_and_compare(std::uint64_t off, std::uint64_t len) {
    std::vector<unsigned char> buf(len);
    std::uint64_t done = 0;
    while (done < len) {
      ssize_t n = pread(fd_, buf.data() + done, len - done, static_cast<off_t>(off + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return syscall_failed("pread", off + done, len - done);
      if (n == 0) break;
      done += static_cast<std::uint64_t>(n);
    }
    return compare("read", off, buf.data(), done, len);
  }

  struct Mapping {
    void* base = MAP_FAILED;
    std::uint64_t length = 0;
    ~Mapping() {
      if (base != MAP_FAILED) munmap(base, length);
    }
  };

  bool map_read(std::uint64_t off, std::uint64_t len) {
    const std::uint64_t page_off = off & ~(page_ - 1);
    Mapping m;
    m.length = off + len - page_off;
    m.base = mmap(nullptr, m.length, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(page_off));
    if (m.base == MAP_FAILED) return syscall_failed("mmap(PROT_READ, MAP_SHARED)", off, len);
    std::vector<unsigned char> buf(len);
    if (!copy_catching_sigbus(buf.data(), static_cast<unsigned char*>(m.base) + (off - page_off),
                              len)) {
      std::fprintf(stderr, "fsx: op %" PRIu64 ": SIGBUS reading the mapping at 0x%" PRIx64
                   " length 0x%" PRIx64 " (model size 0x%zx)\n",
                   number_, off, len, model_.size());
      return false;
    }
    return compare("mapread", off, buf.data(), len, len);
  }

  bool map_write(std::uint64_t off, std::uint64_t len) {
    const std::uint64_t page_off = off & ~(page_ - 1);
    Mapping m;
    m.length = off + len - page_off;
    m.base = mmap(nullptr, m.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd_,
                  static_cast<off_t>(page_off));
    if (m.base == MAP_FAILED) return syscall_failed("mmap(PROT_WRITE, MAP_SHARED)", off, len);
    std::vector<unsigned char> buf(len);
    fill(buf, off);
    if (!copy_catching_sigbus(static_cast<unsigned char*>(m.base) + (off - page_off), buf.data(),
                              len)) {
      std::fprintf(stderr, "fsx: op %" PRIu64 ": SIGBUS writing the mapping at 0x%" PRIx64
                   " length 0x%" PRIx64 " (model size 0x%zx)\n",
                   number_, off, len, model_.size());
      return false;
    }
    if (msync(m.base, m.length, MS_SYNC) != 0) return syscall_failed("msync(MS_SYNC)", off, len);
    std::copy(buf.begin(), buf.end(), model_.begin() + static_cast<std::ptrdiff_t>(off));
    return true;
  }

  bool check_size() {
    struct stat st {};
    if (fstat(fd_, &st) != 0) return syscall_failed("fstat", 0, 0);
    if (static_cast<std::uint64_t>(st.st_size) != model_.size()) {
      std::fprintf(stderr, "fsx: op %" PRIu64 ": file size is 0x%" PRIx64
                   ", the model says 0x%zx\n",
                   number_, static_cast<std::uint64_t>(st.st_size), model_.size());
      return false;
    }
    return true;
  }

  // The whole file, with read() and then through a mapping.
  bool verify_all() {
    const std::uint64_t size = model_.size();
    if (!read_and_compare(0, size + 1)) {
      std::fprintf(stderr, "fsx: (found by the full-file verification after op %" PRIu64 ")\n",
                   number_);
      return false;
    }
    if (size > 0 && !map_read(0, size)) {
      std::fprintf(stderr, "fsx: (found by the full-file mapped verification after op %" PRIu64
                   ")\n", number_);
      return false;
    }
    return true;
  }

  int fail_exit() {
    std::fprintf(stderr, "fsx: FAILED at op %" PRIu64 " of %" PRIu64 ", seed %" PRIu64
                 " (rerun: fsx --seed %" PRIu64 " --ops %" PRIu64 " --max-size %" PRIu64
                 " --max-op %" PRIu64 " FILE)\n",
                 number_, o_.ops, o_.seed, o_.seed, number_, o_.max_size, o_.max_op);
    std::fprintf(stderr, "fsx: the last %zu operations:\n", log_.size());
    for (const LogEntry& e : log_) {
      std::fprintf(stderr, "  %6" PRIu64 " %-10s 0x%06" PRIx64 " len 0x%06" PRIx64
                   "  size 0x%06" PRIx64 " -> 0x%06" PRIx64 "%s\n",
                   e.number, op_name(e.op), e.offset, e.length, e.size_before, e.size_after,
                   e.detail);
    }
    const std::string good = o_.path + ".fsxgood";
    int fd = open(good.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      if (write(fd, model_.data(), model_.size()) == static_cast<ssize_t>(model_.size())) {
        std::fprintf(stderr, "fsx: the expected contents are in %s\n", good.c_str());
      }
      close(fd);
    }
    return 1;
  }

  Options o_;
  std::mt19937_64 rng_;
  int fd_ = -1;
  std::uint64_t page_ = 4096;
  std::uint64_t number_ = 0;
  std::vector<unsigned char> model_;
  std::deque<LogEntry> log_;
  std::array<std::uint64_t, kOpKinds> counts_{};
};

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_sigbus;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGBUS, &sa, nullptr);
  setvbuf(stderr, nullptr, _IOLBF, 0);
  return Exerciser(std::move(o)).run();
}
