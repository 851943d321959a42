#include "test_environment.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string_view>

#include "rdma/device_list.h"

namespace pinfs::rdma::test {

bool in_vm() {
  const char* vm = std::getenv("PINFS_VM");
  return vm != nullptr && std::string_view(vm) == "1";
}

std::vector<std::string> test_device_names() {
  std::vector<std::string> names;
  const char* list = std::getenv("PINFS_TEST_RDMA_DEVICES");
  if (list == nullptr) return names;
  std::string_view rest(list);
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    if (!name.empty()) names.emplace_back(name);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return names;
}

std::optional<std::string> missing_rdma_devices(size_t count) {
  std::vector<std::string> wanted = test_device_names();
  if (wanted.size() < count) {
    return fmt::format("no RDMA device (PINFS_TEST_RDMA_DEVICES names {} of the {} needed)",
                       wanted.size(), count);
  }
  Result<DeviceList> list = DeviceList::open();
  if (!list.ok()) return "no RDMA device (" + list.error().message() + ")";
  for (size_t i = 0; i < count; ++i) {
    if (list->find(wanted[i]) == nullptr) {
      return fmt::format("no RDMA device '{}' (present: {})", wanted[i],
                         fmt::join(list->names(), ", "));
    }
  }
  return std::nullopt;
}

std::optional<std::string> missing_path(const char* variable, const char* what) {
  const char* path = std::getenv(variable);
  if (path == nullptr || *path == '\0') return fmt::format("no {} ({} unset)", what, variable);
  struct stat st;
  if (::stat(path, &st) != 0) return fmt::format("no {} ({}={} does not exist)", what, variable, path);
  return std::nullopt;
}

std::string env_path(const char* variable) {
  const char* path = std::getenv(variable);
  return path != nullptr ? path : "";
}

}  // namespace pinfs::rdma::test
