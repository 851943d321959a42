#include "tests/crash/fs_model.h"

#include <algorithm>
#include <cassert>

namespace pinfs::crashtest {

FsModel::FsModel(std::uint32_t root_perm) {
  ModelNode root;
  root.type = S_IFDIR;
  root.perm = root_perm;
  nodes_.emplace(next_id_, std::move(root));
  paths_.emplace("/", next_id_);
  ++next_id_;
}

std::string FsModel::parent_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 ? std::string("/") : path.substr(0, slash);
}

std::string FsModel::name_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }

std::string FsModel::join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

bool FsModel::is_ancestor(const std::string& ancestor, const std::string& path) {
  if (ancestor == path) return false;
  if (ancestor == "/") return true;
  return path.size() > ancestor.size() && path.compare(0, ancestor.size(), ancestor) == 0 &&
         path[ancestor.size()] == '/';
}

std::vector<std::string> FsModel::children(const std::string& dir) const {
  std::vector<std::string> out;
  std::string prefix = dir == "/" ? "/" : dir + "/";
  for (auto it = paths_.lower_bound(prefix); it != paths_.end(); ++it) {
    const std::string& p = it->first;
    if (p.compare(0, prefix.size(), prefix) != 0) break;
    if (p.size() > prefix.size() && p.find('/', prefix.size()) == std::string::npos) {
      out.push_back(p);
    }
  }
  return out;
}

std::vector<std::string> FsModel::paths_of(ModelId id) const {
  std::vector<std::string> out;
  for (const auto& [path, pid] : paths_) {
    if (pid == id) out.push_back(path);
  }
  return out;
}

std::uint32_t FsModel::nlink(ModelId id) const {
  const ModelNode& n = node(id);
  if (n.type != S_IFDIR) return static_cast<std::uint32_t>(paths_of(id).size());
  std::uint32_t links = 2;
  for (const auto& child : children(paths_of(id).front())) {
    if (at(child).type == S_IFDIR) ++links;
  }
  return links;
}

std::uint64_t FsModel::total_data_bytes() const {
  std::uint64_t total = 0;
  for (const auto& [id, n] : nodes_) total += n.data->size();
  return total;
}

Bytes layout_value(const char* value) {
  Bytes out;
  for (const char* p = value; *p != '\0'; ++p) out.push_back(static_cast<std::byte>(*p));
  return out;
}

ModelId FsModel::create(const std::string& path, ModelNode node) {
  assert(!exists(path) && is_dir(parent_of(path)));
  if ((node.type == S_IFREG || node.type == S_IFDIR) &&
      at(parent_of(path)).xattrs.contains(kLayoutXattr)) {
    node.xattrs[kLayoutXattr] = layout_value("aligned");
  }
  ModelId id = next_id_++;
  nodes_.emplace(id, std::move(node));
  paths_.emplace(path, id);
  return id;
}

void FsModel::link(const std::string& existing, const std::string& new_path) {
  assert(exists(existing) && !exists(new_path));
  paths_.emplace(new_path, id_of(existing));
}

void FsModel::remove(const std::string& path) {
  ModelId id = id_of(path);
  assert(!is_dir(path) || children(path).empty());
  paths_.erase(path);
  if (paths_of(id).empty()) nodes_.erase(id);
}

void FsModel::move_subtree(const std::string& from, const std::string& to,
                           std::map<std::string, ModelId>& out) const {
  out.emplace(to, paths_.at(from));
  for (const auto& [p, id] : paths_) {
    if (is_ancestor(from, p)) out.emplace(to + p.substr(from.size()), id);
  }
}

void FsModel::rename(const std::string& from, const std::string& to, bool exchange) {
  assert(exists(from) && from != "/" && to != "/");
  if (!exchange && exists(to) && id_of(from) == id_of(to)) return;  // two links: a no-op
  std::map<std::string, ModelId> moved;
  move_subtree(from, to, moved);
  if (exchange) move_subtree(to, from, moved);
  // Drop both subtrees (and, without exchange, the replaced target), then
  // insert the moved entries.
  ModelId replaced = 0;
  if (!exchange && exists(to)) replaced = id_of(to);
  std::erase_if(paths_, [&](const auto& entry) {
    const std::string& p = entry.first;
    return p == from || is_ancestor(from, p) || p == to || is_ancestor(to, p);
  });
  paths_.merge(moved);
  if (replaced != 0 && paths_of(replaced).empty()) nodes_.erase(replaced);
}

void FsModel::write(ModelId id, std::uint64_t offset, const Bytes& bytes) {
  ModelNode& n = node(id);
  auto data = std::make_shared<Bytes>(*n.data);
  if (data->size() < offset + bytes.size()) data->resize(offset + bytes.size());
  std::copy(bytes.begin(), bytes.end(), data->begin() + static_cast<std::ptrdiff_t>(offset));
  n.data = std::move(data);
}

void FsModel::resize(ModelId id, std::uint64_t size) {
  ModelNode& n = node(id);
  auto data = std::make_shared<Bytes>(*n.data);
  data->resize(size);
  n.data = std::move(data);
}

void FsModel::zero(ModelId id, std::uint64_t offset, std::uint64_t length) {
  ModelNode& n = node(id);
  auto data = std::make_shared<Bytes>(*n.data);
  std::uint64_t end = std::min<std::uint64_t>(data->size(), offset + length);
  for (std::uint64_t i = offset; i < end; ++i) (*data)[i] = std::byte{0};
  n.data = std::move(data);
}

void FsModel::collapse(ModelId id, std::uint64_t offset, std::uint64_t length) {
  ModelNode& n = node(id);
  auto data = std::make_shared<Bytes>(*n.data);
  data->erase(data->begin() + static_cast<std::ptrdiff_t>(offset),
              data->begin() + static_cast<std::ptrdiff_t>(offset + length));
  n.data = std::move(data);
}

void FsModel::insert(ModelId id, std::uint64_t offset, std::uint64_t length) {
  ModelNode& n = node(id);
  auto data = std::make_shared<Bytes>(*n.data);
  data->insert(data->begin() + static_cast<std::ptrdiff_t>(offset), length, std::byte{0});
  n.data = std::move(data);
}

}  // namespace pinfs::crashtest
