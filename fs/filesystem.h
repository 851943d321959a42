// FileSystem: the pinfs file system on a Media, as the FUSE front end, the
// daemon and the tools use it. Knows nothing of FUSE, leases or sockets: the
// lease manager and pin registry reach it only through LayoutHooks.
//
// Every namespace or layout operation is atomic across power failure (the
// metadata journal, docs/format.md). Data written with write() is durable
// when it returns.
//
// Thread-safe: every method may be called from any thread. LayoutHooks are
// called with no file-system lock held, because a break may wait seconds.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/media.h"
#include "pinfs/error.h"

namespace pinfs::fs {

using InodeNumber = std::uint64_t;
inline constexpr InodeNumber kRootInode = 1;
inline constexpr std::size_t kNameMaxBytes = 255;
inline constexpr std::size_t kSymlinkMaxBytes = 4095;
inline constexpr std::size_t kXattrNameMaxBytes = 255;
inline constexpr std::size_t kXattrValueMaxBytes = 65536;
// Whole range of a file (truncate, final unlink).
inline constexpr std::uint64_t kToEnd = UINT64_MAX;

struct Timespec {
  std::int64_t sec = 0;
  std::uint32_t nsec = 0;
  friend bool operator==(const Timespec&, const Timespec&) = default;
};

// Who asks: ownership of new inodes, and the EDEADLK rule (a process that
// holds an unbreakable lease asking for a layout change over it).
struct Caller {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  // pid names a thread (what FUSE reports); whoever compares it with a
  // lease holder's process resolves it first (pin::process_of_thread).
  bool pid_is_thread = false;
};

struct Attr {
  InodeNumber ino = 0;
  std::uint32_t mode = 0;  // st_mode: S_IFMT type bits and permission bits
  std::uint32_t nlink = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t rdev = 0;
  std::uint64_t size = 0;
  std::uint64_t blocks_512 = 0;  // st_blocks: allocated bytes / 512
  Timespec atime, mtime, ctime, btime;
  std::uint64_t generation = 0;
  bool aligned_policy = false;  // data goes to aligned extents (inherited by new children)
};

struct SetAttr {
  std::optional<std::uint32_t> mode;  // permission bits only (07777)
  std::optional<std::uint32_t> uid;
  std::optional<std::uint32_t> gid;
  std::optional<std::uint64_t> size;  // truncate
  // UTIME_NOW / UTIME_OMIT semantics: nullopt leaves the time, now=true sets
  // the current time.
  std::optional<Timespec> atime;
  bool atime_now = false;
  std::optional<Timespec> mtime;
  bool mtime_now = false;
};

struct DirEntry {
  std::string name;
  InodeNumber ino = 0;
  std::uint32_t mode = 0;  // only the S_IFMT bits are meaningful
  // Pass back to readdir() to continue after this entry. Stable across
  // inserts and removals of other entries (POSIX telldir/seekdir).
  std::uint64_t next_cookie = 0;
};

// A piece of a file's layout. media_offset is a byte offset into the media;
// a hole is not listed.
struct Extent {
  std::uint64_t file_offset = 0;
  std::uint64_t media_offset = 0;
  std::uint64_t length = 0;
  friend bool operator==(const Extent&, const Extent&) = default;
};

struct FsStat {
  std::uint64_t block_size = 0;
  std::uint64_t total_blocks = 0;
  std::uint64_t free_blocks = 0;
  std::uint64_t total_inodes = 0;
  std::uint64_t free_inodes = 0;
  std::uint64_t aligned_unit_bytes = 0;
  std::uint64_t quarantined_bytes = 0;
  std::uint64_t name_max = kNameMaxBytes;
};

// What kind of layout change asks the hooks first (DESIGN.md §4).
enum class LayoutChangeKind {
  truncate_down,
  punch_hole,
  collapse_range,
  insert_range,
  final_unlink,   // unlink/rmdir/rename dropping the last link
  make_mappable,  // moving data into aligned extents
};
const char* to_string(LayoutChangeKind kind);

struct LayoutChange {
  LayoutChangeKind kind;
  InodeNumber ino = 0;
  std::uint64_t offset = 0;
  std::uint64_t length = kToEnd;
  Caller caller;
};

// The narrow hooks through which the lease manager and the pin registry see
// the file system.
class LayoutHooks {
 public:
  virtual ~LayoutHooks() = default;
  // Called before a layout change touches the allocator, with no fs lock
  // held. May wait (a lease break) and may refuse: ETXTBSY, EDEADLK. Every
  // successful begin is followed by exactly one end.
  virtual Status begin_layout_change(const LayoutChange& change) = 0;
  virtual void end_layout_change(const LayoutChange& change) = 0;
  // Is any byte of [media_offset, media_offset + length) pinned? Called
  // under the fs lock when extents leave a file: pinned ones go to
  // quarantine instead of the free pool. Must not call back into the fs.
  virtual bool is_pinned(std::uint64_t media_offset, std::uint64_t length) const = 0;
};

// A pin as the file system records it on the media (the pin table,
// docs/format.md), so that a daemon restart keeps its extents out of the
// free pool until its owner and registrations are gone (DESIGN.md §4,
// invariant 3). The file system stores and checks these; what they mean
// (leases, clients, reclaim) is the pin registry's business.
struct RecordedRegistration {
  std::string device_name;  // at most 63 bytes
  std::uint32_t lkey = 0;
  std::uint32_t rkey = 0;
  std::uint64_t iova = 0;
  std::uint64_t length_bytes = 0;
  std::uint32_t access_flags = 0;
  friend bool operator==(const RecordedRegistration&, const RecordedRegistration&) = default;
};
struct PinRecord {
  std::uint64_t pin_id = 0;  // never 0
  InodeNumber ino = 0;
  std::uint64_t file_offset = 0;
  std::uint64_t file_length = 0;
  std::int32_t owner_pid = 0;
  std::uint32_t owner_uid = 0;
  std::uint64_t owner_start_ticks = 0;  // 0 = unknown
  std::array<std::uint8_t, 16> boot_id{};
  std::string command;                  // at most 15 bytes are kept
  std::int64_t created_sec = 0;
  // Clipped to the file range, in file order; media offsets in bytes.
  std::vector<Extent> extents;
  std::vector<RecordedRegistration> registrations;
  friend bool operator==(const PinRecord&, const PinRecord&) = default;
};
// Slots the pin table gives one pin at most (six extents or one
// registration a slot): room for 64 registrations and about 5,700 extents,
// far more than a mapped file of aligned units has. A pin needing more is
// refused (E2BIG: pin a smaller range).
inline constexpr std::size_t kMaxPinRecordSlots = 1024;

struct MkfsOptions {
  std::uint64_t block_size = 4096;
  // The aligned-extent unit; 0 = the media's map alignment, at least 2 MiB
  // on devices, and 2 MiB on files unless given (a power of two, >= 64 KiB,
  // a multiple of the media's map alignment).
  std::uint64_t aligned_unit_bytes = 0;
  std::uint64_t inode_count = 0;  // 0 = derived from the size
  bool force = false;             // overwrite an existing pinfs
};

struct MountOptions {
  bool read_only = false;
};

struct CheckFinding {
  std::string where;  // "inode 42", "block 1234", "superblock", "journal", "dir 7 entry 'x'"
  std::string what;   // what is wrong
};
struct CheckReport {
  bool clean() const { return findings.empty(); }
  std::vector<CheckFinding> findings;
  std::uint64_t inodes_checked = 0;
  std::uint64_t blocks_in_use = 0;
};

// Named regions of an image, for the corrupter tests and `pinfs check`.
struct MediaRegion {
  std::string name;  // "superblock", "journal", "inode-table", "bitmap", "directory", ...
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

class FileSystem {
 public:
  static Status mkfs(Media& media, const MkfsOptions& options);
  // Validates the superblock, replays the journal (unless read_only, in which
  // case a dirty journal is an error) and loads the metadata.
  static Result<std::unique_ptr<FileSystem>> mount(std::unique_ptr<Media> media,
                                                   const MountOptions& options = {});
  // Checks a file system that is not mounted. Never writes.
  static Result<CheckReport> check(const Media& media);
  static Result<std::vector<MediaRegion>> regions(const Media& media);

  virtual ~FileSystem() = default;
  // Marks the file system clean; no call may follow.
  virtual Status unmount() = 0;
  virtual Media& media() = 0;

  virtual void set_layout_hooks(LayoutHooks* hooks) = 0;

  virtual Result<Attr> getattr(InodeNumber ino) = 0;
  virtual Result<Attr> lookup(InodeNumber parent, std::string_view name) = 0;
  virtual Result<Attr> setattr(InodeNumber ino, const SetAttr& changes, const Caller& caller) = 0;

  // mode carries S_IFMT (S_IFREG, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK).
  virtual Result<Attr> mknod(InodeNumber parent, std::string_view name, std::uint32_t mode,
                             std::uint64_t rdev, const Caller& caller) = 0;
  virtual Result<Attr> mkdir(InodeNumber parent, std::string_view name, std::uint32_t mode,
                             const Caller& caller) = 0;
  virtual Result<Attr> symlink(InodeNumber parent, std::string_view name,
                               std::string_view target, const Caller& caller) = 0;
  virtual Result<std::string> readlink(InodeNumber ino) = 0;
  virtual Result<Attr> link(InodeNumber ino, InodeNumber new_parent, std::string_view new_name,
                            const Caller& caller) = 0;
  virtual Status unlink(InodeNumber parent, std::string_view name, const Caller& caller) = 0;
  virtual Status rmdir(InodeNumber parent, std::string_view name, const Caller& caller) = 0;
  // flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE (<linux/fs.h>).
  virtual Status rename(InodeNumber parent, std::string_view name, InodeNumber new_parent,
                        std::string_view new_name, unsigned flags, const Caller& caller) = 0;

  // Open references keep an unlinked inode's data until the last release
  // (the FUSE layer maps its lookup counts or open files onto these).
  virtual Status acquire(InodeNumber ino) = 0;
  virtual void release(InodeNumber ino) = 0;

  virtual Result<std::size_t> read(InodeNumber ino, std::uint64_t offset,
                                   std::span<std::byte> out) = 0;
  virtual Result<std::size_t> write(InodeNumber ino, std::uint64_t offset,
                                    std::span<const std::byte> data, const Caller& caller) = 0;
  // Calls emit for each entry from cookie on ("." and ".." first, with
  // cookies 1 and 2) until it returns false.
  virtual Status readdir(InodeNumber dir, std::uint64_t cookie,
                         const std::function<bool(const DirEntry&)>& emit) = 0;
  // mode: 0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE|KEEP_SIZE,
  // FALLOC_FL_ZERO_RANGE[|KEEP_SIZE], FALLOC_FL_COLLAPSE_RANGE,
  // FALLOC_FL_INSERT_RANGE (<linux/falloc.h>).
  virtual Status fallocate(InodeNumber ino, int mode, std::uint64_t offset,
                           std::uint64_t length, const Caller& caller) = 0;
  virtual Status fsync(InodeNumber ino) = 0;
  // Writes back the times of in-place overwrites still held in memory
  // (fs/deferred_times.h); fsync and unmount do it too. For close and for a
  // timer.
  virtual Status write_back_times() = 0;

  virtual Result<std::vector<std::byte>> getxattr(InodeNumber ino, std::string_view name) = 0;
  // flags: 0, XATTR_CREATE, XATTR_REPLACE.
  virtual Status setxattr(InodeNumber ino, std::string_view name,
                          std::span<const std::byte> value, int flags,
                          const Caller& caller) = 0;
  virtual Result<std::vector<std::string>> listxattr(InodeNumber ino) = 0;
  virtual Status removexattr(InodeNumber ino, std::string_view name, const Caller& caller) = 0;

  virtual Result<FsStat> statfs() = 0;

  // Moves the file's data into aligned extents (atomically) so that clients
  // can map and pin it; a no-op when it already is.
  virtual Status make_mappable(InodeNumber ino, const Caller& caller) = 0;
  virtual Result<std::vector<Extent>> extents(InodeNumber ino, std::uint64_t offset,
                                              std::uint64_t length) = 0;

  // Extents that left a file while pinned wait here; the pin registry calls
  // this once the last pin on a range is gone.
  virtual Status release_quarantined(std::uint64_t media_offset, std::uint64_t length) = 0;
  // The quarantine's entries (media offset, length), by media offset.
  virtual Result<std::vector<Extent>> quarantined() = 0;

  // The pin table (docs/format.md). record_pin writes (or rewrites) the
  // record of record.pin_id in one transaction: durable when it returns.
  // EOPNOTSUPP: the image has no pin table (made by an older mkfs);
  // ENOSPC: the table is full; E2BIG: more than kMaxPinRecordSlots slots;
  // EINVAL: pin id 0, an extent outside the data area, a bad name.
  virtual Status record_pin(const PinRecord& record) = 0;
  // Erases the record of the pin, if there is one (durable when it returns).
  virtual Status erase_pin(std::uint64_t pin_id) = 0;
  // Every record, by pin id; as mount loaded them, plus changes since.
  virtual Result<std::vector<PinRecord>> recorded_pins() = 0;
  // Whether the image has a pin table at all.
  virtual bool has_pin_table() const = 0;
};

}  // namespace pinfs::fs
