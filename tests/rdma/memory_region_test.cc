#include "rdma/memory_region.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "rdma/context.h"
#include "rdma/protection_domain.h"
#include "test_environment.h"
#include "test_mapping.h"

namespace pinfs::rdma {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr int kRemoteReadWrite =
    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;

TEST(FormatAccessTest, NamesEachBitAndShowsUnknownBitsInHex) {
  EXPECT_EQ(format_access(0), "none");
  EXPECT_EQ(format_access(kRemoteReadWrite), "LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ");
  EXPECT_EQ(format_access(IBV_ACCESS_REMOTE_READ | (1 << 30)), "REMOTE_READ|0x40000000");
}

TEST(FormatBytesTest, UsesTheLargestUnitThatDividesExactly) {
  EXPECT_EQ(format_bytes(0), "0 bytes");
  EXPECT_EQ(format_bytes(4097), "4097 bytes");
  EXPECT_EQ(format_bytes(4096), "4 KiB");
  EXPECT_EQ(format_bytes(64 * kMiB), "64 MiB");
  EXPECT_EQ(format_bytes(3 * kMiB + 4096), "3076 KiB");
  EXPECT_EQ(format_bytes(uint64_t{2} << 30), "2 GiB");
}

TEST(FormatRangeTest, ShowsStartInHexAndLength) {
  EXPECT_EQ(format_range(reinterpret_cast<void*>(0x7f3a00000000), 64 * kMiB),
            "[0x7f3a00000000, +64 MiB)");
}

// A device opened and a PD allocated on the first test device.
class MemoryRegionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PINFS_REQUIRE(test::missing_rdma_devices(1));
    device_name_ = test::test_device_names()[0];
    Result<Context> context = Context::open(device_name_);
    ASSERT_TRUE(context.ok()) << context.error().message();
    context_.emplace(std::move(context).value());
    Result<ProtectionDomain> pd = ProtectionDomain::allocate(*context_);
    ASSERT_TRUE(pd.ok()) << pd.error().message();
    pd_.emplace(std::move(pd).value());
  }

  std::string device_name_;
  std::optional<Context> context_;
  std::optional<ProtectionDomain> pd_;
};

TEST_F(MemoryRegionTest, RegistersAnonymousMemoryAndReportsItsKeysAndRange) {
  test::Mapping memory = test::Mapping::anonymous(4 * kMiB);
  ASSERT_TRUE(memory.valid()) << std::strerror(errno);

  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, memory.addr(), memory.length_bytes(), kRemoteReadWrite);
  ASSERT_TRUE(mr.ok()) << mr.error().message();
  EXPECT_TRUE(mr->is_registered());
  EXPECT_EQ(mr->addr(), memory.addr());
  EXPECT_EQ(mr->length_bytes(), 4 * kMiB);
  EXPECT_EQ(mr->device_name(), device_name_);
  EXPECT_EQ(mr->device_kernel_index(), context_->kernel_index());
  EXPECT_EQ(mr->get()->lkey, mr->lkey());
  EXPECT_EQ(mr->get()->rkey, mr->rkey());

  Status deregistered = mr->deregister();
  ASSERT_TRUE(deregistered.ok()) << deregistered.error().message();
  EXPECT_FALSE(mr->is_registered());
  EXPECT_TRUE(mr->deregister().ok()) << "deregistering twice does nothing";
}

// devdax pages are not file-system blocks: nothing can move them, so the
// kernel allows the long-term pin. The mapping must be MAP_SHARED and
// aligned to the device's alignment (2 MiB in the VM).
TEST_F(MemoryRegionTest, Registers64MiBSharedMappingOfDeviceDax) {
  PINFS_REQUIRE(test::missing_path("PINFS_TEST_DAX", "device-DAX"));
  const std::string path = test::env_path("PINFS_TEST_DAX");
  test::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid()) << path << ": " << std::strerror(errno);
  test::Mapping dax(64 * kMiB, MAP_SHARED, fd.get());
  ASSERT_TRUE(dax.valid()) << "mmap " << path << ": " << std::strerror(errno);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(dax.addr()) % (2 * kMiB), 0u)
      << "device-DAX mappings are placed at the device's alignment";

  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, dax.addr(), dax.length_bytes(), kRemoteReadWrite);
  ASSERT_TRUE(mr.ok()) << mr.error().message();
  EXPECT_EQ(mr->length_bytes(), 64 * kMiB);
  Status deregistered = mr->deregister();
  EXPECT_TRUE(deregistered.ok()) << deregistered.error().message();
}

// The problem pinfs exists to solve, kept as a regression test: a file on
// ext4 -o dax can lose its blocks under a pin (truncate, hole punch), so the
// kernel refuses the long-term pin that registration needs.
TEST_F(MemoryRegionTest, RegisteringAFilesystemDaxMappingFailsWithEopnotsupp) {
  PINFS_REQUIRE(test::missing_path("PINFS_TEST_FSDAX_DIR", "filesystem-DAX mount"));
  std::string path = test::env_path("PINFS_TEST_FSDAX_DIR") + "/rdma-test-XXXXXX";
  test::UniqueFd fd(::mkstemp(path.data()));
  ASSERT_TRUE(fd.valid()) << path << ": " << std::strerror(errno);
  ::unlink(path.c_str());  // the open descriptor keeps the file for the test
  constexpr size_t kLength = 4 * kMiB;
  ASSERT_EQ(::posix_fallocate(fd.get(), 0, kLength), 0);

  // Without DAX the registration would succeed and the test would prove
  // nothing: check that the mount really gives DAX mappings.
  struct statx stx {};
  ASSERT_EQ(::statx(fd.get(), "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx), 0)
      << std::strerror(errno);
  ASSERT_NE(stx.stx_attributes & STATX_ATTR_DAX, 0u) << path << " is not in DAX mode";

  test::Mapping file(kLength, MAP_SHARED, fd.get());
  ASSERT_TRUE(file.valid()) << "mmap " << path << ": " << std::strerror(errno);

  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, file.addr(), kLength, kRemoteReadWrite);
  ASSERT_FALSE(mr.ok()) << "the kernel pinned a filesystem-DAX file mapping";
  EXPECT_EQ(mr.error().errnum(), EOPNOTSUPP);
  EXPECT_EQ(mr.error().errnum(), 95);
  EXPECT_EQ(mr.error().op(), "register MR on");
  EXPECT_EQ(mr.error().object(),
            "'" + device_name_ + "' " + format_range(file.addr(), kLength));
  const std::string message = mr.error().message();
  EXPECT_EQ(message.rfind("register MR on '" + device_name_ + "' [0x", 0), 0u) << message;
  EXPECT_NE(message.find(", +4 MiB): Operation not supported (access "
                         "LOCAL_WRITE|REMOTE_WRITE|REMOTE_READ; "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("filesystem-DAX"), std::string::npos) << message;
}

TEST_F(MemoryRegionTest, RemoteWriteWithoutLocalWriteIsEinvalNamingDeviceRangeAndAccess) {
  test::Mapping memory = test::Mapping::anonymous(kMiB);
  ASSERT_TRUE(memory.valid()) << std::strerror(errno);

  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, memory.addr(), kMiB, IBV_ACCESS_REMOTE_WRITE);
  ASSERT_FALSE(mr.ok());
  EXPECT_EQ(mr.error().errnum(), EINVAL);
  EXPECT_EQ(mr.error().message(), "register MR on '" + device_name_ + "' " +
                                      format_range(memory.addr(), kMiB) +
                                      ": Invalid argument (access REMOTE_WRITE)");
}

TEST_F(MemoryRegionTest, DeallocatingTheProtectionDomainIsRefusedWhileAnMrIsRegistered) {
  test::Mapping memory = test::Mapping::anonymous(kMiB);
  ASSERT_TRUE(memory.valid()) << std::strerror(errno);
  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, memory.addr(), kMiB, IBV_ACCESS_LOCAL_WRITE);
  ASSERT_TRUE(mr.ok()) << mr.error().message();

  Status refused = pd_->deallocate();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum(), EBUSY);
  EXPECT_EQ(refused.error().message(),
            "deallocate protection domain on '" + device_name_ +
                "': Device or resource busy (1 memory region(s) still registered in it; "
                "deregister them first)");
  EXPECT_TRUE(pd_->is_allocated());

  ASSERT_TRUE(mr->deregister().ok());
  Status deallocated = pd_->deallocate();
  EXPECT_TRUE(deallocated.ok()) << deallocated.error().message();
}

// Teardown in the wrong order (PD and device handles first) must not leave
// the MR pointing into freed verbs objects: the MR holds them.
TEST_F(MemoryRegionTest, MemoryRegionKeepsItsProtectionDomainAndDeviceAlive) {
  test::Mapping memory = test::Mapping::anonymous(kMiB);
  ASSERT_TRUE(memory.valid()) << std::strerror(errno);
  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, memory.addr(), kMiB, IBV_ACCESS_LOCAL_WRITE);
  ASSERT_TRUE(mr.ok()) << mr.error().message();

  pd_.reset();
  context_.reset();
  EXPECT_EQ(mr->device_name(), device_name_);
  Status deregistered = mr->deregister();
  EXPECT_TRUE(deregistered.ok()) << deregistered.error().message();
}

TEST_F(MemoryRegionTest, MovedFromMemoryRegionOwnsNothing) {
  test::Mapping memory = test::Mapping::anonymous(kMiB);
  ASSERT_TRUE(memory.valid()) << std::strerror(errno);
  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, memory.addr(), kMiB, IBV_ACCESS_LOCAL_WRITE);
  ASSERT_TRUE(mr.ok()) << mr.error().message();

  MemoryRegion moved = std::move(mr).value();
  EXPECT_TRUE(moved.is_registered());
  EXPECT_FALSE(mr->is_registered());  // NOLINT(bugprone-use-after-move): the point of the test
  EXPECT_TRUE(mr->deregister().ok());
  Status deregistered = moved.deregister();
  EXPECT_TRUE(deregistered.ok()) << deregistered.error().message();
}

}  // namespace
}  // namespace pinfs::rdma
