// TreeDigest: everything observable about a directory tree, read through
// the ordinary system calls (lstat, readlink, read, llistxattr), so that two
// trees — a source and its copy, or one tree before and after a remount —
// can be compared field by field with a readable list of differences.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pinfs::mount_test {

struct EntryDigest {
  std::uint32_t mode = 0;  // st_mode: type and permission bits
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  std::uint64_t nlink = 0;
  std::uint64_t ino = 0;
  std::uint64_t blocks = 0;  // st_blocks
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint64_t rdev = 0;
  std::string link_target;      // symlinks
  std::uint64_t content_hash = 0;  // FNV-1a 64 of the data (regular files)
  // For a file with more than one link: the first of its names in the tree
  // (sorted order), so that link groups compare across trees whose inode
  // numbers differ.
  std::string link_leader;
  std::map<std::string, std::string> xattrs;  // user.* only
  std::string error;  // what could not be read, if anything
};

// Relative path ("" for the root itself) to its digest.
using TreeDigest = std::map<std::string, EntryDigest>;

// Which fields compare() looks at.
enum DigestField : unsigned {
  kType = 1u << 0,
  kPermissions = 1u << 1,
  kOwner = 1u << 2,
  kSize = 1u << 3,
  kNlink = 1u << 4,
  kIno = 1u << 5,
  kBlocks = 1u << 6,
  kMtime = 1u << 7,
  kCtime = 1u << 8,
  kContent = 1u << 9,  // data, symlink targets, device numbers
  kLinks = 1u << 10,   // hard-link groups
  kXattrs = 1u << 11,
  // What a copy with cp -a or tar keeps.
  kCopyFields = kType | kPermissions | kOwner | kSize | kNlink | kMtime | kContent | kLinks |
                kXattrs,
  // What a remount must keep: everything but atime.
  kAllFields = kCopyFields | kIno | kBlocks | kCtime,
};

TreeDigest digest_tree(const std::string& root);

// The differences between two digests in the chosen fields, one line each
// ("linux/ioctl.h: size 1234 != 1200"); empty when they agree. At most
// max_lines lines, then a count of the rest.
std::vector<std::string> compare(const TreeDigest& expected, const TreeDigest& got,
                                 unsigned fields, std::size_t max_lines = 30);

// The differences joined into one message for an assertion.
std::string join_lines(const std::vector<std::string>& lines);

// FNV-1a 64 of a file's data; 0 and errno set if it cannot be read.
std::uint64_t hash_file(const std::string& path, std::string* error);

}  // namespace pinfs::mount_test
