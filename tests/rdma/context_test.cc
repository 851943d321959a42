#include "rdma/context.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "rdma/protection_domain.h"
#include "test_environment.h"

namespace pinfs::rdma {
namespace {

// Runs everywhere: without RDMA in the kernel, no device of any name exists.
TEST(ContextTest, OpeningAMissingDeviceIsEnodevNamingTheDevice) {
  Result<Context> context = Context::open("pinfs-no-such-device");
  ASSERT_FALSE(context.ok());
  EXPECT_EQ(context.error().errnum(), ENODEV);
  EXPECT_EQ(context.error().op(), "open RDMA device");
  EXPECT_EQ(context.error().object(), "pinfs-no-such-device");
  EXPECT_EQ(context.error().message().rfind(
                "open RDMA device 'pinfs-no-such-device': No such device (", 0),
            0u)
      << context.error().message();
  if (test::missing_rdma_devices(1) == std::nullopt) {
    // Where devices exist, the error lists them so that a typo is obvious.
    EXPECT_NE(context.error().detail().find("present: " + test::test_device_names()[0]),
              std::string::npos)
        << context.error().message();
  }
}

TEST(ContextTest, OpensADeviceByNameAndClosesItOnce) {
  PINFS_REQUIRE(test::missing_rdma_devices(1));
  const std::string name = test::test_device_names()[0];
  Result<Context> context = Context::open(name);
  ASSERT_TRUE(context.ok()) << context.error().message();
  EXPECT_TRUE(context->is_open());
  EXPECT_EQ(context->device_name(), name);
  EXPECT_NE(context->get(), nullptr);
  EXPECT_TRUE(context->kernel_index().has_value());

  Status closed = context->close();
  ASSERT_TRUE(closed.ok()) << closed.error().message();
  EXPECT_FALSE(context->is_open());
  EXPECT_EQ(context->get(), nullptr);
  EXPECT_TRUE(context->close().ok()) << "closing a closed context does nothing";
}

TEST(ContextTest, CloseIsRefusedWithEbusyWhileAProtectionDomainExists) {
  PINFS_REQUIRE(test::missing_rdma_devices(1));
  const std::string name = test::test_device_names()[0];
  Result<Context> context = Context::open(name);
  ASSERT_TRUE(context.ok()) << context.error().message();
  Result<ProtectionDomain> pd = ProtectionDomain::allocate(*context);
  ASSERT_TRUE(pd.ok()) << pd.error().message();

  Status refused = context->close();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum(), EBUSY);
  EXPECT_EQ(refused.error().message(),
            "close RDMA device '" + name +
                "': Device or resource busy (1 protection domain(s) still allocated on it; "
                "destroy them first)");
  EXPECT_TRUE(context->is_open()) << "a refused close leaves the device open";

  ASSERT_TRUE(pd->deallocate().ok());
  Status closed = context->close();
  EXPECT_TRUE(closed.ok()) << closed.error().message();
}

TEST(ContextTest, ProtectionDomainKeepsTheDeviceOpenAfterTheContextIsGone) {
  PINFS_REQUIRE(test::missing_rdma_devices(1));
  std::optional<ProtectionDomain> pd;
  {
    Result<Context> context = Context::open(test::test_device_names()[0]);
    ASSERT_TRUE(context.ok()) << context.error().message();
    Result<ProtectionDomain> allocated = ProtectionDomain::allocate(*context);
    ASSERT_TRUE(allocated.ok()) << allocated.error().message();
    pd.emplace(std::move(allocated).value());
  }
  // The verbs context behind the PD must still be alive: querying through it
  // would touch freed memory otherwise (and ASan would say so).
  ibv_device_attr attributes{};
  EXPECT_EQ(ibv_query_device(pd->get()->context, &attributes), 0);
  Status deallocated = pd->deallocate();
  EXPECT_TRUE(deallocated.ok()) << deallocated.error().message();
}

TEST(ContextTest, AllocatingOnAClosedContextIsEbadf) {
  PINFS_REQUIRE(test::missing_rdma_devices(1));
  Result<Context> context = Context::open(test::test_device_names()[0]);
  ASSERT_TRUE(context.ok()) << context.error().message();
  ASSERT_TRUE(context->close().ok());
  Result<ProtectionDomain> pd = ProtectionDomain::allocate(*context);
  ASSERT_FALSE(pd.ok());
  EXPECT_EQ(pd.error().errnum(), EBADF);
}

}  // namespace
}  // namespace pinfs::rdma
