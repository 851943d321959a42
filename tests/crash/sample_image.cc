#include "tests/crash/sample_image.h"

#include <linux/falloc.h>
#include <unistd.h>

#include <random>

#include <fmt/format.h>

namespace pinfs::crashtest {

namespace {

// Builds the tree through the FileSystem API and mirrors it in the model.
class Builder {
 public:
  Builder(fs::FileSystem& filesystem, FsModel& model) : fs_(filesystem), model_(model) {}

  Result<fs::InodeNumber> mkdir(fs::InodeNumber parent, const std::string& path) {
    PINFS_ASSIGN_OR_RETURN(fs::Attr a, fs_.mkdir(parent, FsModel::name_of(path), 0755, caller_));
    ModelNode n;
    n.type = S_IFDIR;
    n.perm = 0755;
    model_.create(path, n);
    return a.ino;
  }

  Result<fs::InodeNumber> file(fs::InodeNumber parent, const std::string& path,
                               std::uint64_t size, std::uint64_t seed) {
    PINFS_ASSIGN_OR_RETURN(fs::Attr a, fs_.mknod(parent, FsModel::name_of(path), S_IFREG | 0644,
                                                 0, caller_));
    ModelNode n;
    n.type = S_IFREG;
    n.perm = 0644;
    ModelId id = model_.create(path, n);
    if (size != 0) PINFS_TRY(write(a.ino, id, 0, size, seed));
    return a.ino;
  }

  Status write(fs::InodeNumber ino, ModelId id, std::uint64_t offset, std::uint64_t length,
               std::uint64_t seed) {
    Bytes data(length);
    std::mt19937_64 rng(seed);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    PINFS_ASSIGN_OR_RETURN(std::size_t n, fs_.write(ino, offset, data, caller_));
    if (n != length) return Error(EIO, "sample image write", fmt::format("inode {}", ino), "short");
    model_.write(id, offset, data);
    return ok_status();
  }

  Status xattr(fs::InodeNumber ino, const std::string& path, const std::string& name,
               std::size_t length) {
    Bytes value(length);
    for (std::size_t i = 0; i < length; ++i) value[i] = static_cast<std::byte>('a' + i % 26);
    PINFS_TRY(fs_.setxattr(ino, name, value, 0, caller_));
    model_.at(path).xattrs[name] = value;
    return ok_status();
  }

  Result<fs::InodeNumber> symlink(fs::InodeNumber parent, const std::string& path,
                                  const std::string& target) {
    PINFS_ASSIGN_OR_RETURN(fs::Attr a,
                           fs_.symlink(parent, FsModel::name_of(path), target, caller_));
    ModelNode n;
    n.type = S_IFLNK;
    n.perm = 0777;
    n.target = target;
    model_.create(path, n);
    return a.ino;
  }

  const fs::Caller& caller() const { return caller_; }

 private:
  fs::FileSystem& fs_;
  FsModel& model_;
  fs::Caller caller_{::getpid(), 0, 0};
};

Status populate(fs::FileSystem& f, FsModel& model, const SampleImageOptions& o) {
  Builder b(f, model);
  const fs::InodeNumber root = fs::kRootInode;
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber docs, b.mkdir(root, "/docs"));
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber readme, b.file(docs, "/docs/readme", 100, 1));
  PINFS_TRY(b.file(docs, "/docs/notes", 3000, 2));
  PINFS_TRY(b.xattr(readme, "/docs/readme", "user.small", 16));
  PINFS_TRY(b.xattr(docs, "/docs", "user.big", 3000));
  PINFS_TRY(f.link(readme, docs, "readme-link", b.caller()));
  model.link("/docs/readme", "/docs/readme-link");

  fs::InodeNumber deep = docs;
  std::string deep_path = "/docs";
  for (const char* name : {"deep", "a", "b", "c"}) {
    deep_path += std::string("/") + name;
    PINFS_ASSIGN_OR_RETURN(deep, b.mkdir(deep, deep_path));
  }
  PINFS_TRY(b.file(deep, deep_path + "/leaf", 10, 3));

  // A large file with a hole in its middle third.
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber big, b.file(root, "/big", 0, 0));
  ModelId big_id = model.id_of("/big");
  std::uint64_t third = o.large_file_bytes / 3;
  PINFS_TRY(b.write(big, big_id, 0, third, 4));
  PINFS_TRY(b.write(big, big_id, 2 * third, o.large_file_bytes - 2 * third, 5));
  PINFS_TRY(b.xattr(big, "/big", "user.huge", 20000));

  // A punched file and a mappable one.
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber sparse, b.file(root, "/sparse", 64 << 10, 6));
  PINFS_TRY(f.fallocate(sparse, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 8192, 20000,
                        b.caller()));
  model.zero(model.id_of("/sparse"), 8192, 20000);
  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber mapped, b.file(root, "/mapped", 100 << 10, 7));
  PINFS_TRY(f.make_mappable(mapped, b.caller()));
  model.at("/mapped").xattrs[kLayoutXattr] = layout_value("aligned");

  PINFS_TRY(b.symlink(root, "/link-short", "docs/readme"));
  PINFS_TRY(b.symlink(root, "/link-long", std::string(2000, 'x')));
  PINFS_TRY(f.mknod(root, "fifo", S_IFIFO | 0600, 0, b.caller()));
  ModelNode fifo;
  fifo.type = S_IFIFO;
  fifo.perm = 0600;
  model.create("/fifo", fifo);

  PINFS_ASSIGN_OR_RETURN(fs::InodeNumber many, b.mkdir(root, "/many"));
  for (std::size_t i = 0; i < o.entries_in_big_dir; ++i) {
    PINFS_TRY(b.file(many, fmt::format("/many/entry-with-a-longish-name-{:04}", i), i * 7, 100 + i));
  }
  return ok_status();
}

}  // namespace

Result<SampleImage> build_sample_image(const SampleImageOptions& o) {
  SampleImage out;
  out.map_alignment_bytes = o.map_alignment_bytes;
  {
    auto media = fs::Media::from_image(std::vector<std::byte>(o.image_bytes), o.map_alignment_bytes);
    fs::MkfsOptions mkfs;
    mkfs.aligned_unit_bytes = o.aligned_unit_bytes;
    mkfs.inode_count = o.inode_count;
    PINFS_TRY(fs::FileSystem::mkfs(*media, mkfs));
    PINFS_ASSIGN_OR_RETURN(auto filesystem, fs::FileSystem::mount(std::move(media)));
    PINFS_ASSIGN_OR_RETURN(fs::Attr root, filesystem->getattr(fs::kRootInode));
    out.model = FsModel(root.mode & 07777);
    PINFS_TRY(populate(*filesystem, out.model, o));
    PINFS_TRY(filesystem->unmount());
    const fs::Media& m = filesystem->media();
    out.clean.assign(m.data(), m.data() + m.size_bytes());
  }
  {
    // Replay the clean image on tracking media and keep what was persisted
    // halfway through a last operation.
    auto media = fs::Media::from_image(out.clean, o.map_alignment_bytes, true);
    fs::DurabilityTracker* tracker = media->tracker();
    PINFS_ASSIGN_OR_RETURN(auto filesystem, fs::FileSystem::mount(std::move(media)));
    std::vector<std::vector<std::byte>> persisted;
    tracker->set_persist_hook(
        [&](std::uint64_t) { persisted.push_back(tracker->persisted_image()); });
    fs::Caller caller{::getpid(), 0, 0};
    PINFS_ASSIGN_OR_RETURN(fs::Attr docs, filesystem->lookup(fs::kRootInode, "docs"));
    PINFS_TRY(filesystem->rename(docs.ino, "notes", fs::kRootInode, "big", 0, caller));
    tracker->set_persist_hook(nullptr);
    out.model_after_dirty_op = out.model;
    out.model_after_dirty_op.rename("/docs/notes", "/big", false);
    if (persisted.empty()) {
      return Error(EPROTO, "build sample image", "rename '/docs/notes' -> '/big'",
                   "the rename reached no persist point");
    }
    out.dirty = std::move(persisted[persisted.size() / 2]);
    // The tracked file system is dropped without unmount: a power failure.
  }
  return out;
}

}  // namespace pinfs::crashtest
