// TreeSnapshot: everything reachable in a mounted pinfs, read through the
// FileSystem API, and its comparison with an FsModel.
//
// The crash checker reads a snapshot of each recovered image and compares it
// with the model as it was before and after the operation in flight. The
// comparisons return a list of differences (empty = match) so that a failure
// says what differs, not just that something does.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fs/filesystem.h"
#include "pinfs/error.h"
#include "tests/crash/fs_model.h"

namespace pinfs::crashtest {

struct SnapshotNode {
  fs::InodeNumber ino = 0;
  std::uint32_t mode = 0;  // S_IFMT and 07777 bits
  std::uint32_t nlink = 0;
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::uint64_t size = 0;
  Bytes data;          // regular files
  std::string target;  // symlinks
  std::map<std::string, Bytes> xattrs;
  friend bool operator==(const SnapshotNode&, const SnapshotNode&) = default;
};

struct TreeSnapshot {
  std::map<std::string, fs::InodeNumber> paths;  // "/" included
  std::map<fs::InodeNumber, SnapshotNode> nodes;
  // Inconsistencies seen while reading: a "." or ".." that points elsewhere,
  // a directory entry whose type disagrees with the inode, a short read.
  std::vector<std::string> problems;
};

// Reads the whole tree. Any error from the file system fails the read: a
// recovered file system must answer every call on what it lists.
Result<TreeSnapshot> read_tree(fs::FileSystem& filesystem);

// What the operation in flight may have left half-done: nothing (atomic), or
// the bytes of one file within [begin, end) (write, punch, zero range), each
// byte either old or new and the size anywhere between the old and the new.
struct InFlight {
  bool ranged_data = false;
  ModelId id = 0;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

// Differences between the model and the snapshot; empty when they match.
std::vector<std::string> diff(const FsModel& model, const TreeSnapshot& snapshot,
                              std::size_t max_differences = 12);

// Differences between the snapshot and what a crash during the operation in
// flight may leave: the model before it, the model after it, or, for a
// ranged_data operation, a per-byte mix of the two within the range. Empty
// when the snapshot is one of those.
std::vector<std::string> diff_in_flight(const FsModel& before, const FsModel& after,
                                        const InFlight& in_flight, const TreeSnapshot& snapshot);

// Differences between two snapshots of the same image (inode numbers
// included), e.g. two recoveries of one crash image.
std::vector<std::string> diff(const TreeSnapshot& expected, const TreeSnapshot& actual,
                              std::size_t max_differences = 12);

std::string describe_mode(std::uint32_t mode);

}  // namespace pinfs::crashtest
