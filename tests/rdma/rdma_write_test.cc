// End to end: an RDMA WRITE from rxe0 lands in device-DAX memory registered
// on rxe1, at the offset it was aimed at. This is what pinfs promises for
// registered file extents, shown on the raw device.
//
// Queue pairs and completion queues have no wrappers in rdma/ yet; the test
// owns them through unique_ptr with the verbs destroy call as deleter, and
// Endpoint declares them after the PD so they are destroyed first.
#include <fcntl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "rdma/context.h"
#include "rdma/memory_region.h"
#include "rdma/protection_domain.h"
#include "test_environment.h"
#include "test_mapping.h"

namespace pinfs::rdma {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr uint8_t kPort = 1;
constexpr int kGidIndex = 0;  // the IPv6 link-local GID of the veth (RoCE v2)
// rxe under TCG moves 0.1-0.3 Gb/s and stalls now and then: a completion
// that takes this long means the write is lost, not slow.
constexpr auto kCompletionTimeout = std::chrono::seconds(60);

struct CqDestroyer {
  void operator()(ibv_cq* cq) const { (void)ibv_destroy_cq(cq); }
};
struct QpDestroyer {
  void operator()(ibv_qp* qp) const { (void)ibv_destroy_qp(qp); }
};

// One side of the connection: a device with an RC queue pair on it.
struct Endpoint {
  std::optional<Context> context;
  std::optional<ProtectionDomain> pd;
  std::unique_ptr<ibv_cq, CqDestroyer> cq;
  std::unique_ptr<ibv_qp, QpDestroyer> qp;
  ibv_gid gid{};
  ibv_mtu active_mtu = IBV_MTU_1024;
};

void open_endpoint(const std::string& device, Endpoint& endpoint) {
  Result<Context> context = Context::open(device);
  ASSERT_TRUE(context.ok()) << context.error().message();
  endpoint.context.emplace(std::move(context).value());
  Result<ProtectionDomain> pd = ProtectionDomain::allocate(*endpoint.context);
  ASSERT_TRUE(pd.ok()) << pd.error().message();
  endpoint.pd.emplace(std::move(pd).value());

  ibv_context* verbs = endpoint.context->get();
  endpoint.cq.reset(ibv_create_cq(verbs, 16, nullptr, nullptr, 0));
  ASSERT_NE(endpoint.cq, nullptr) << "ibv_create_cq on " << device << ": " << std::strerror(errno);

  ibv_qp_init_attr init{};
  init.send_cq = endpoint.cq.get();
  init.recv_cq = endpoint.cq.get();
  init.qp_type = IBV_QPT_RC;
  init.cap.max_send_wr = 4;
  init.cap.max_recv_wr = 4;
  init.cap.max_send_sge = 1;
  init.cap.max_recv_sge = 1;
  endpoint.qp.reset(ibv_create_qp(endpoint.pd->get(), &init));
  ASSERT_NE(endpoint.qp, nullptr) << "ibv_create_qp on " << device << ": " << std::strerror(errno);

  ibv_port_attr port{};
  ASSERT_EQ(ibv_query_port(verbs, kPort, &port), 0) << device << ": " << std::strerror(errno);
  ASSERT_EQ(port.state, IBV_PORT_ACTIVE) << device << " port " << int{kPort} << " is not active";
  endpoint.active_mtu = port.active_mtu;
  ASSERT_EQ(ibv_query_gid(verbs, kPort, kGidIndex, &endpoint.gid), 0)
      << device << ": " << std::strerror(errno);
}

// Moves `local`'s QP through INIT and RTR to RTS, aimed at `remote`'s QP.
void connect(Endpoint& local, const Endpoint& remote) {
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_INIT;
  attr.pkey_index = 0;
  attr.port_num = kPort;
  attr.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
  ASSERT_EQ(ibv_modify_qp(local.qp.get(), &attr,
                          IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS),
            0)
      << "to INIT: " << std::strerror(errno);

  attr = {};
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = std::min(local.active_mtu, remote.active_mtu);
  attr.dest_qp_num = remote.qp->qp_num;
  attr.rq_psn = 0;
  attr.max_dest_rd_atomic = 1;
  attr.min_rnr_timer = 12;
  attr.ah_attr.is_global = 1;  // RoCE addresses by GID, not LID
  attr.ah_attr.grh.dgid = remote.gid;
  attr.ah_attr.grh.sgid_index = kGidIndex;
  attr.ah_attr.grh.hop_limit = 1;
  attr.ah_attr.port_num = kPort;
  ASSERT_EQ(ibv_modify_qp(local.qp.get(), &attr,
                          IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                              IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER),
            0)
      << "to RTR: " << std::strerror(errno);

  attr = {};
  attr.qp_state = IBV_QPS_RTS;
  attr.timeout = 18;  // about 1 s per try: TCG is slow
  attr.retry_cnt = 7;
  attr.rnr_retry = 7;
  attr.sq_psn = 0;
  attr.max_rd_atomic = 1;
  ASSERT_EQ(ibv_modify_qp(local.qp.get(), &attr,
                          IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                              IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC),
            0)
      << "to RTS: " << std::strerror(errno);
}

TEST(RdmaWriteTest, WriteFromRxe0LandsInDeviceDaxRegisteredOnRxe1) {
  PINFS_REQUIRE(test::missing_rdma_devices(2));
  PINFS_REQUIRE(test::missing_path("PINFS_TEST_DAX", "device-DAX"));
  const std::vector<std::string> devices = test::test_device_names();

  Endpoint sender;
  Endpoint target;
  ASSERT_NO_FATAL_FAILURE(open_endpoint(devices[0], sender));
  ASSERT_NO_FATAL_FAILURE(open_endpoint(devices[1], target));
  ASSERT_NO_FATAL_FAILURE(connect(sender, target));
  ASSERT_NO_FATAL_FAILURE(connect(target, sender));

  const std::string path = test::env_path("PINFS_TEST_DAX");
  test::UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(fd.valid()) << path << ": " << std::strerror(errno);
  test::Mapping dax(8 * kMiB, MAP_SHARED, fd.get());
  ASSERT_TRUE(dax.valid()) << "mmap " << path << ": " << std::strerror(errno);

  // An offset that is neither page nor MR aligned, and a length that
  // crosses page boundaries, so a write landing anywhere else shows.
  constexpr size_t kOffset = 3 * kMiB + 4000;
  constexpr size_t kLength = 256 * 1024 + 77;
  auto* target_bytes = static_cast<unsigned char*>(dax.addr());
  // The device is shared with other tests of the run: put its bytes back.
  std::vector<unsigned char> saved(target_bytes + kOffset - 64, target_bytes + kOffset + kLength + 64);
  std::memset(target_bytes + kOffset - 64, 0xEE, kLength + 128);

  test::Mapping source = test::Mapping::anonymous(kLength);
  ASSERT_TRUE(source.valid()) << std::strerror(errno);
  auto* pattern = static_cast<unsigned char*>(source.addr());
  for (size_t i = 0; i < kLength; ++i) pattern[i] = static_cast<unsigned char>(i * 7 + 1);

  Result<MemoryRegion> target_mr = MemoryRegion::register_range(
      *target.pd, dax.addr(), dax.length_bytes(), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
  ASSERT_TRUE(target_mr.ok()) << target_mr.error().message();
  Result<MemoryRegion> source_mr =
      MemoryRegion::register_range(*sender.pd, source.addr(), kLength, IBV_ACCESS_LOCAL_WRITE);
  ASSERT_TRUE(source_mr.ok()) << source_mr.error().message();

  ibv_sge sge{};
  sge.addr = reinterpret_cast<uintptr_t>(source.addr());
  sge.length = static_cast<uint32_t>(kLength);
  sge.lkey = source_mr->lkey();
  ibv_send_wr write{};
  write.wr_id = 1;
  write.sg_list = &sge;
  write.num_sge = 1;
  write.opcode = IBV_WR_RDMA_WRITE;
  write.send_flags = IBV_SEND_SIGNALED;
  write.wr.rdma.remote_addr = reinterpret_cast<uintptr_t>(target_bytes + kOffset);
  write.wr.rdma.rkey = target_mr->rkey();
  ibv_send_wr* bad = nullptr;
  ASSERT_EQ(ibv_post_send(sender.qp.get(), &write, &bad), 0) << std::strerror(errno);

  ibv_wc completion{};
  int polled = 0;
  const auto deadline = std::chrono::steady_clock::now() + kCompletionTimeout;
  while ((polled = ibv_poll_cq(sender.cq.get(), 1, &completion)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(polled, 1) << "no completion within " << kCompletionTimeout.count() << " s";
  ASSERT_EQ(completion.status, IBV_WC_SUCCESS) << ibv_wc_status_str(completion.status);
  EXPECT_EQ(completion.wr_id, 1u);

  EXPECT_EQ(std::memcmp(target_bytes + kOffset, pattern, kLength), 0)
      << "the written bytes are not at the offset the write was aimed at";
  EXPECT_TRUE(std::all_of(target_bytes + kOffset - 64, target_bytes + kOffset,
                          [](unsigned char b) { return b == 0xEE; }))
      << "the write reached bytes before its target";
  EXPECT_TRUE(std::all_of(target_bytes + kOffset + kLength, target_bytes + kOffset + kLength + 64,
                          [](unsigned char b) { return b == 0xEE; }))
      << "the write reached bytes after its target";

  std::memcpy(target_bytes + kOffset - 64, saved.data(), saved.size());
}

}  // namespace
}  // namespace pinfs::rdma
