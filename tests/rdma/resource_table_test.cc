#include "rdma/resource_table.h"

#include <gtest/gtest.h>
#include <rdma/rdma_netlink.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "netlink_message_builder.h"
#include "rdma/context.h"
#include "rdma/memory_region.h"
#include "rdma/protection_domain.h"
#include "test_environment.h"
#include "test_mapping.h"

namespace pinfs::rdma {
namespace {

using test::AttributeBuilder;

constexpr size_t kMiB = size_t{1} << 20;

// The device handle the kernel puts first in every nldev reply.
AttributeBuilder device_handle(uint32_t index, const std::string& name) {
  AttributeBuilder out;
  out.u32(RDMA_NLDEV_ATTR_DEV_INDEX, index).string(RDMA_NLDEV_ATTR_DEV_NAME, name);
  return out;
}

// One MR dump message as the 6.1 kernel writes it for a root reader: a user
// MR (keys, length, id, PD, pid) and a kernel MR (no keys asked for, owner
// name instead of pid). The u64 sits behind a PAD attribute the way
// nla_put_u64_64bit aligns it.
TEST(DecodeMrDumpMessageTest, DecodesEntriesLikeTheKernelWritesThem) {
  AttributeBuilder user_mr;
  user_mr.u32(RDMA_NLDEV_ATTR_RES_RKEY, 0x1234)
      .u32(RDMA_NLDEV_ATTR_RES_LKEY, 0x1235)
      .raw(RDMA_NLDEV_ATTR_PAD, nullptr, 0)
      .u64(RDMA_NLDEV_ATTR_RES_MRLEN, 64 * kMiB)
      .u32(RDMA_NLDEV_ATTR_RES_MRN, 7)
      .u32(RDMA_NLDEV_ATTR_RES_PDN, 3)
      .u32(RDMA_NLDEV_ATTR_RES_PID, 4242);
  AttributeBuilder kernel_mr;
  kernel_mr.u64(RDMA_NLDEV_ATTR_RES_MRLEN, 4096)
      .u32(RDMA_NLDEV_ATTR_RES_MRN, 8)
      .string(RDMA_NLDEV_ATTR_RES_KERN_NAME, "ib_core");
  AttributeBuilder table;
  table.nested(RDMA_NLDEV_ATTR_RES_MR_ENTRY, user_mr).nested(RDMA_NLDEV_ATTR_RES_MR_ENTRY, kernel_mr);
  AttributeBuilder message = device_handle(2, "rxe0");
  message.nested(RDMA_NLDEV_ATTR_RES_MR, table);

  Result<std::vector<KernelMr>> mrs = decode_mr_dump_message(message.bytes());
  ASSERT_TRUE(mrs.ok()) << mrs.error().message();
  ASSERT_EQ(mrs->size(), 2u);

  const KernelMr& user = (*mrs)[0];
  EXPECT_EQ(user.device_index, 2u);
  EXPECT_EQ(user.device_name, "rxe0");
  EXPECT_EQ(user.rkey, 0x1234u);
  EXPECT_EQ(user.lkey, 0x1235u);
  EXPECT_EQ(user.length_bytes, 64 * kMiB);
  EXPECT_EQ(user.mr_id, 7u);
  EXPECT_EQ(user.pd_id, 3u);
  EXPECT_EQ(user.pid, 4242);
  EXPECT_FALSE(user.iova.has_value());
  EXPECT_EQ(user.kernel_owner, "");

  const KernelMr& kernel = (*mrs)[1];
  EXPECT_FALSE(kernel.rkey.has_value());
  EXPECT_FALSE(kernel.lkey.has_value());
  EXPECT_FALSE(kernel.pid.has_value());
  EXPECT_FALSE(kernel.pd_id.has_value());
  EXPECT_EQ(kernel.length_bytes, 4096u);
  EXPECT_EQ(kernel.kernel_owner, "ib_core");
}

TEST(DecodeMrDumpMessageTest, APidOfZeroMeansNoLiveOwner) {
  AttributeBuilder entry;
  entry.u64(RDMA_NLDEV_ATTR_RES_MRLEN, 4096).u32(RDMA_NLDEV_ATTR_RES_PID, 0);
  AttributeBuilder table;
  table.nested(RDMA_NLDEV_ATTR_RES_MR_ENTRY, entry);
  AttributeBuilder message = device_handle(0, "rxe1");
  message.nested(RDMA_NLDEV_ATTR_RES_MR, table);

  Result<std::vector<KernelMr>> mrs = decode_mr_dump_message(message.bytes());
  ASSERT_TRUE(mrs.ok()) << mrs.error().message();
  ASSERT_EQ(mrs->size(), 1u);
  EXPECT_FALSE((*mrs)[0].pid.has_value());
}

TEST(DecodeMrDumpMessageTest, AnEntryWithoutLengthIsEprotoNamingTheDevice) {
  AttributeBuilder entry;
  entry.u32(RDMA_NLDEV_ATTR_RES_RKEY, 1);
  AttributeBuilder table;
  table.nested(RDMA_NLDEV_ATTR_RES_MR_ENTRY, entry);
  AttributeBuilder message = device_handle(0, "rxe0");
  message.nested(RDMA_NLDEV_ATTR_RES_MR, table);

  Result<std::vector<KernelMr>> mrs = decode_mr_dump_message(message.bytes());
  ASSERT_FALSE(mrs.ok());
  EXPECT_EQ(mrs.error().errnum(), EPROTO);
  EXPECT_EQ(mrs.error().message(),
            "decode rdma netlink reply <MR entry>: Protocol error (MR on 'rxe0' without a length)");
}

TEST(DecodeMrDumpMessageTest, AMessageWithoutDeviceHandleIsEproto) {
  AttributeBuilder message;
  message.u32(RDMA_NLDEV_ATTR_DEV_INDEX, 0);
  Result<std::vector<KernelMr>> mrs = decode_mr_dump_message(message.bytes());
  ASSERT_FALSE(mrs.ok());
  EXPECT_EQ(mrs.error().errnum(), EPROTO);
}

TEST(DecodeMrDumpMessageTest, ATruncatedNestedEntryIsEproto) {
  AttributeBuilder entry;
  entry.u64(RDMA_NLDEV_ATTR_RES_MRLEN, 4096).u32(RDMA_NLDEV_ATTR_RES_RKEY, 1);
  entry.bytes().resize(entry.bytes().size() - 2);  // the rkey loses half its value
  AttributeBuilder table;
  table.nested(RDMA_NLDEV_ATTR_RES_MR_ENTRY, entry);
  AttributeBuilder message = device_handle(0, "rxe0");
  message.nested(RDMA_NLDEV_ATTR_RES_MR, table);

  Result<std::vector<KernelMr>> mrs = decode_mr_dump_message(message.bytes());
  ASSERT_FALSE(mrs.ok());
  EXPECT_EQ(mrs.error().errnum(), EPROTO);
}

TEST(DecodeMrGetReplyTest, ReadsTheEntryAttributesUnnested) {
  AttributeBuilder message = device_handle(1, "rxe1");
  message.u32(RDMA_NLDEV_ATTR_RES_RKEY, 0x99)
      .u64(RDMA_NLDEV_ATTR_RES_MRLEN, 2 * kMiB)
      .u32(RDMA_NLDEV_ATTR_RES_MRN, 12);
  Result<KernelMr> mr = decode_mr_get_reply(message.bytes());
  ASSERT_TRUE(mr.ok()) << mr.error().message();
  EXPECT_EQ(mr->device_name, "rxe1");
  EXPECT_EQ(mr->rkey, 0x99u);
  EXPECT_EQ(mr->length_bytes, 2 * kMiB);
  EXPECT_EQ(mr->mr_id, 12u);
}

// Against the real kernel (VM): a registration appears in the table with
// its device, keys, length and pid, and leaves it when deregistered.
class ResourceTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PINFS_REQUIRE(test::missing_rdma_devices(1));
    // The keys are reported to CAP_NET_ADMIN only; the VM runs tests as root.
    ASSERT_EQ(::geteuid(), 0u) << "the kernel reports MR keys to root only";
    Result<Context> context = Context::open(test::test_device_names()[0]);
    ASSERT_TRUE(context.ok()) << context.error().message();
    context_.emplace(std::move(context).value());
    Result<ProtectionDomain> pd = ProtectionDomain::allocate(*context_);
    ASSERT_TRUE(pd.ok()) << pd.error().message();
    pd_.emplace(std::move(pd).value());
  }

  // The entries that match `mr` the way pinfs matches registrations:
  // device, rkey and length.
  static std::vector<KernelMr> matching(const std::vector<KernelMr>& table,
                                        const std::string& device, uint32_t rkey,
                                        uint64_t length_bytes) {
    std::vector<KernelMr> out;
    std::copy_if(table.begin(), table.end(), std::back_inserter(out), [&](const KernelMr& k) {
      return k.device_name == device && k.rkey == rkey && k.length_bytes == length_bytes;
    });
    return out;
  }

  std::optional<Context> context_;
  std::optional<ProtectionDomain> pd_;
};

TEST_F(ResourceTableTest, ListsALiveMrAndNoLongerAfterDeregistration) {
  // An unusual length makes a match with an unrelated MR implausible.
  constexpr size_t kLength = 3 * kMiB + 4096;
  test::Mapping memory = test::Mapping::anonymous(kLength);
  ASSERT_TRUE(memory.valid()) << std::strerror(errno);
  Result<MemoryRegion> mr = MemoryRegion::register_range(
      *pd_, memory.addr(), kLength, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ);
  ASSERT_TRUE(mr.ok()) << mr.error().message();
  const std::string device = mr->device_name();
  const uint32_t rkey = mr->rkey();

  Result<std::vector<KernelMr>> live = list_kernel_mrs();
  ASSERT_TRUE(live.ok()) << live.error().message();
  std::vector<KernelMr> found = matching(*live, device, rkey, kLength);
  ASSERT_EQ(found.size(), 1u) << "MR rkey " << rkey << " on " << device << " not in the table";
  EXPECT_EQ(found[0].device_index, mr->device_kernel_index());
  EXPECT_EQ(found[0].lkey, mr->lkey());
  EXPECT_EQ(found[0].pid, ::getpid());
  EXPECT_TRUE(found[0].mr_id.has_value());

  ASSERT_TRUE(mr->deregister().ok());
  Result<std::vector<KernelMr>> after = list_kernel_mrs();
  ASSERT_TRUE(after.ok()) << after.error().message();
  EXPECT_TRUE(matching(*after, device, rkey, kLength).empty())
      << "a deregistered MR is still in the kernel's table";
}

TEST_F(ResourceTableTest, FindsALiveMrByIdAndNotAfterDeregistration) {
  constexpr size_t kLength = 5 * kMiB + 8192;
  test::Mapping memory = test::Mapping::anonymous(kLength);
  ASSERT_TRUE(memory.valid()) << std::strerror(errno);
  Result<MemoryRegion> mr =
      MemoryRegion::register_range(*pd_, memory.addr(), kLength, IBV_ACCESS_LOCAL_WRITE);
  ASSERT_TRUE(mr.ok()) << mr.error().message();

  Result<std::vector<KernelMr>> table = list_kernel_mrs();
  ASSERT_TRUE(table.ok()) << table.error().message();
  std::vector<KernelMr> found = matching(*table, mr->device_name(), mr->rkey(), kLength);
  ASSERT_EQ(found.size(), 1u);
  ASSERT_TRUE(found[0].mr_id.has_value());
  const uint32_t device_index = found[0].device_index;
  const uint32_t mr_id = *found[0].mr_id;

  Result<std::optional<KernelMr>> live = find_kernel_mr(device_index, mr_id);
  ASSERT_TRUE(live.ok()) << live.error().message();
  ASSERT_TRUE(live->has_value());
  EXPECT_EQ((*live)->rkey, mr->rkey());
  EXPECT_EQ((*live)->length_bytes, kLength);
  EXPECT_EQ((*live)->pid, ::getpid());

  ASSERT_TRUE(mr->deregister().ok());
  Result<std::optional<KernelMr>> gone = find_kernel_mr(device_index, mr_id);
  ASSERT_TRUE(gone.ok()) << gone.error().message();
  EXPECT_FALSE(gone->has_value());
}

TEST_F(ResourceTableTest, FindingOnADeviceIndexThatDoesNotExistIsNotFound) {
  Result<std::optional<KernelMr>> found = find_kernel_mr(0xfffffff0u, 1);
  ASSERT_TRUE(found.ok()) << found.error().message();
  EXPECT_FALSE(found->has_value());
}

}  // namespace
}  // namespace pinfs::rdma
