// FsModel: what the crash tests expect a pinfs tree to hold.
//
// The model is the reference the recovered file system is compared with: a
// map from path to a model inode, and per inode its type, permission bits,
// owner, data, symlink target and xattrs. Link counts are derived (a file has
// one per path; a directory 2 + its subdirectories), so they cannot drift
// from the tree. A copy is cheap (file data is shared until written), because
// the crash checker keeps the model as it was before the operation in flight.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace pinfs::crashtest {

using Bytes = std::vector<std::byte>;

// The aligned-allocation policy of a file or directory shows as this xattr
// with the value "aligned" (DESIGN.md §3): make_mappable sets it, new
// children inherit it, setxattr "small" or removexattr clears it. The model
// keeps it in the xattrs like any other.
inline constexpr const char* kLayoutXattr = "user.pinfs.layout";
Bytes layout_value(const char* value);  // the bytes of "aligned" or "small"
// A model inode's identity: stable across renames, shared by hard links.
using ModelId = std::uint64_t;

struct ModelNode {
  std::uint32_t type = S_IFREG;  // S_IFREG, S_IFDIR, S_IFLNK or S_IFIFO
  std::uint32_t perm = 0644;     // the 07777 bits
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  // Regular files: the bytes, holes as zeros; size() is the file size.
  // Shared between copies of the model, replaced (never mutated) on write.
  std::shared_ptr<const Bytes> data = std::make_shared<const Bytes>();
  std::string target;  // symlinks
  std::map<std::string, Bytes> xattrs;

  std::uint64_t size() const { return type == S_IFLNK ? target.size() : data->size(); }
};

class FsModel {
 public:
  // An empty tree: the root directory with root_perm.
  explicit FsModel(std::uint32_t root_perm = 0755);

  static std::string parent_of(const std::string& path);  // "/a/b" -> "/a", "/a" -> "/"
  static std::string name_of(const std::string& path);    // "/a/b" -> "b"
  static std::string join(const std::string& dir, const std::string& name);
  // Is ancestor a proper ancestor directory of path?
  static bool is_ancestor(const std::string& ancestor, const std::string& path);

  bool exists(const std::string& path) const { return paths_.contains(path); }
  ModelId id_of(const std::string& path) const { return paths_.at(path); }
  const ModelNode& node(ModelId id) const { return nodes_.at(id); }
  ModelNode& node(ModelId id) { return nodes_.at(id); }
  const ModelNode& at(const std::string& path) const { return node(id_of(path)); }
  ModelNode& at(const std::string& path) { return node(id_of(path)); }
  bool is_dir(const std::string& path) const {
    return exists(path) && at(path).type == S_IFDIR;
  }

  const std::map<std::string, ModelId>& paths() const { return paths_; }
  const std::map<ModelId, ModelNode>& nodes() const { return nodes_; }
  std::vector<std::string> children(const std::string& dir) const;
  std::vector<std::string> paths_of(ModelId id) const;
  std::uint32_t nlink(ModelId id) const;
  std::uint64_t total_data_bytes() const;

  // Mutations, applied after the file system reported success. They assume
  // the preconditions the caller checked (the parent exists, and so on).
  // A new file or directory inherits its parent's aligned policy.
  ModelId create(const std::string& path, ModelNode node);
  void link(const std::string& existing, const std::string& new_path);
  // Drops the path; the inode goes with its last path.
  void remove(const std::string& path);
  // rename(2) with flags 0 or RENAME_EXCHANGE; moves whole subtrees.
  void rename(const std::string& from, const std::string& to, bool exchange);
  // Replaces a file's bytes [offset, offset + bytes.size()), extending with
  // zeros as needed.
  void write(ModelId id, std::uint64_t offset, const Bytes& bytes);
  void resize(ModelId id, std::uint64_t size);
  void zero(ModelId id, std::uint64_t offset, std::uint64_t length);  // within the size only
  void collapse(ModelId id, std::uint64_t offset, std::uint64_t length);
  void insert(ModelId id, std::uint64_t offset, std::uint64_t length);

 private:
  void move_subtree(const std::string& from, const std::string& to,
                    std::map<std::string, ModelId>& out) const;

  std::map<std::string, ModelId> paths_;
  std::map<ModelId, ModelNode> nodes_;
  ModelId next_id_ = 1;
};

}  // namespace pinfs::crashtest
