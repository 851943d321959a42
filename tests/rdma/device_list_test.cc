#include "rdma/device_list.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_environment.h"

namespace pinfs::rdma {
namespace {

TEST(FormatGuidTest, GroupsSixteenHexDigitsInFours) {
  EXPECT_EQ(format_guid(0x0002c9030043bc8eULL), "0002:c903:0043:bc8e");
  EXPECT_EQ(format_guid(0), "0000:0000:0000:0000");
}

TEST(DeviceListTest, ListsTheTestDevicesWithGuidsAndKernelIndexes) {
  PINFS_REQUIRE(test::missing_rdma_devices(2));
  Result<DeviceList> list = DeviceList::open();
  ASSERT_TRUE(list.ok()) << list.error().message();

  std::vector<DeviceInfo> devices = list->describe();
  EXPECT_EQ(devices.size(), list->size());
  for (const std::string& name : test::test_device_names()) {
    auto it = std::find_if(devices.begin(), devices.end(),
                           [&](const DeviceInfo& d) { return d.name == name; });
    ASSERT_NE(it, devices.end()) << name << " not listed";
    // rxe derives its node GUID from the netdev's MAC address: never zero.
    EXPECT_NE(it->node_guid, 0u) << name;
    EXPECT_TRUE(it->kernel_index.has_value()) << name;
    EXPECT_NE(list->find(name), nullptr) << name;
  }
  EXPECT_EQ(list->find("pinfs-no-such-device"), nullptr);
}

}  // namespace
}  // namespace pinfs::rdma
